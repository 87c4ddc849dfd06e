"""The world's budget: cores and memory of all ranks, and registers too large to finish.

References are written out: a dense ``n``-qubit complex128 state is ``16 * 2**n`` bytes, a
rank is :data:`~hybridqml.training._world.RANK_BASE_BYTES` plus that.
"""

from __future__ import annotations

import time

import pytest
import torch

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import BackendError, ConfigurationError
from hybridqml.execution import _memory
from hybridqml.training import _world
from hybridqml.training._world import RANK_BASE_BYTES, check_world

GIB = 1 << 30


# -- cores ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("nproc", "cores"), [(1, 1), (2, 1), (3, 2), (4, 2), (16, 8)])
def test_up_to_two_ranks_per_core_are_accepted(nproc: int, cores: int) -> None:
    check_world(nproc, cores=cores, available=1 << 50)


def test_64_ranks_on_2_cores_are_refused_with_the_numbers_and_the_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"--nproc 64 .*2 CPU core.*at most 4 ranks"):
        check_world(64, cores=2, available=1 << 50)
    with pytest.raises(ConfigurationError, match=r"use --nproc 2 \(one rank per core\)"):
        check_world(5, cores=2, available=1 << 50)


# -- memory of the whole world -----------------------------------------------------------------
def test_ranks_that_each_fit_but_not_together_are_refused() -> None:
    available = 24 * GIB
    one_rank = RANK_BASE_BYTES + 16 * 2**30  # written out: 30 qubits, complex128
    assert one_rank < available  # each rank alone would pass its own check
    check_world(1, n_qubits=30, cores=2, available=available)
    with pytest.raises(ConfigurationError) as info:
        check_world(2, n_qubits=30, cores=2, available=available)
    message = str(info.value)
    assert f"at least {_memory.human_bytes(2 * one_rank)}" in message  # 33.0 GiB
    assert "16.0 GiB" in message and "24.0 GiB" in message
    assert "use at most --nproc 1, fewer qubits" in message


def test_the_memory_refusal_names_how_many_ranks_fit() -> None:
    per_rank = RANK_BASE_BYTES + 16 * 2**20
    with pytest.raises(ConfigurationError, match=r"use at most --nproc 3\b"):
        check_world(4, n_qubits=20, cores=8, available=3 * per_rank + 1)
    check_world(3, n_qubits=20, cores=8, available=3 * per_rank)


def test_the_cli_refuses_the_world_before_any_rank_starts(tmp_path, monkeypatch, capsys) -> None:
    import torch.distributed.run

    from hybridqml.cli import main

    def started(*args, **kwargs):
        raise AssertionError("a rank was started")

    monkeypatch.setattr(torch.distributed.run, "run", started)
    monkeypatch.setattr(_world, "usable_cores", lambda: 2)
    out = tmp_path / "run"
    assert main(["train", "qnn", "--nproc", "64", "--out", str(out)]) == 1
    assert "--nproc 64 asks for 64 ranks" in capsys.readouterr().err
    monkeypatch.setattr(_world, "available_memory_bytes", lambda: 24 * GIB)
    assert main(["train", "qnn", "--nproc", "2", "--qubits", "30", "--out", str(out)]) == 1
    assert "2 ranks need at least 33.0 GiB" in capsys.readouterr().err
    assert not out.exists()


# -- each rank's share ---------------------------------------------------------------------------
def test_each_local_rank_checks_against_its_share_of_the_memory(monkeypatch) -> None:
    state = 16 * 2**20  # 20 qubits, written out
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: state + state // 2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    hq.QuantumLayer(circuits.variational(20, 1), backend="aer")  # one rank: fits
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    with pytest.raises(BackendError, match=r"20 qubits.*limit is 12,582,912 .*share \(1/2\)"):
        hq.QuantumLayer(circuits.variational(20, 1), backend="aer")


def test_the_torch_engine_sees_its_share_too(monkeypatch) -> None:
    from hybridqml.backends.torchsim._simulator import available_memory

    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 9000)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    assert available_memory(torch.device("cpu")) == 3000


# -- registers that cannot finish ---------------------------------------------------------------
def test_a_30_qubit_aer_layer_is_refused_at_once_naming_the_override() -> None:
    need = 16 * 2**30  # written out: 2**30 amplitudes of complex128
    start = time.perf_counter()
    with pytest.raises(BackendError) as info:
        hq.QuantumLayer(circuits.variational(30, 1), backend="aer")
    assert time.perf_counter() - start < 10  # refused before anything large starts
    message = str(info.value)
    assert f"{need:,} bytes" in message and "16.0 GiB" in message
    assert f"'max_memory_bytes': {need}" in message


def test_the_largest_register_under_the_guard_is_not_refused_by_it() -> None:
    assert _memory.LARGE_STATE_BYTES == 16 * 2**28  # 28 qubits: exactly the guard
    spec = circuits.variational(28, 1)
    try:
        hq.QuantumLayer(spec, backend="aer")
    except BackendError as exc:  # a small machine may still lack the memory, never the guard
        assert "refuses" not in str(exc) and "cannot simulate 28 qubits" in str(exc)


def test_an_explicit_budget_accepts_a_large_register_up_to_the_memory_check(monkeypatch) -> None:
    need = 16 * 2**30
    monkeypatch.setattr(_memory, "available_memory_bytes", lambda: 8 * GIB)
    with pytest.raises(BackendError, match=r"30 qubits.*limit is 8,589,934,592 bytes"):
        hq.QuantumLayer(
            circuits.variational(30, 1), backend="aer", backend_options={"max_memory_bytes": need}
        )
    with pytest.raises(BackendError, match="refuses 30 qubits"):  # a budget below the state
        hq.QuantumLayer(
            circuits.variational(30, 1),
            backend="aer",
            backend_options={"max_memory_bytes": need - 1},
        )
