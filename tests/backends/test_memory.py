"""Memory and scale (issue 14): passes split under a budget, up-front size checks, option checks."""

import math

import numpy as np
import pytest
import torch
from _circuits import rich_spec
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

import hybridqml as hq
from hybridqml import circuits
from hybridqml.backends.torchsim._observables import PauliTable
from hybridqml.backends.torchsim._simulator import TorchSimulator
from hybridqml.circuits import ParameterizedCircuit
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.exceptions import BackendError, ConfigurationError, InputError
from hybridqml.execution import _sampler_executor as sampler_executor
from hybridqml.execution import _tracking as tracking
from hybridqml.execution._executor import MAX_SHOTS
from hybridqml.execution._memory import DEFAULT_MAX_MEMORY_BYTES, chunk_sizes
from hybridqml.execution._registry import make_executor
from hybridqml.execution._simulators import AER_RESULT_BYTES

# -- the chunk plan ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "cost", "budget"),
    [(10, 100, 1000), (10, 100, 400), (12, 100, 400), (13, 100, 400), (7, 1, 7), (1000, 3, 100)],
)
def test_chunk_plan_is_the_fewest_calls_under_the_budget(m, cost, budget):
    sizes = chunk_sizes(m, cost, budget)
    per_call = budget // cost
    assert sum(sizes) == m
    assert len(sizes) == math.ceil(m / per_call)  # minimal number of calls
    assert max(sizes) * cost <= budget  # each call fits
    assert max(sizes) - min(sizes) <= 1  # balanced
    if m * cost <= budget:
        assert sizes == [m]


def test_chunk_plan_edge_cases():
    assert chunk_sizes(5, None, 1) == [5]  # unknown cost: never split (remote backends)
    assert chunk_sizes(3, 10_000, 100) == [1, 1, 1]  # a binding over the budget runs alone
    assert chunk_sizes(0, 100, 100) == []


# -- Aer exact: one call when it fits, identical values when split -------------------------------


def test_small_backward_at_ten_qubits_is_one_call_under_the_default_budget():
    layer = hq.QuantumLayer(circuits.variational(10, 2), backend="aer")
    executor = layer.engine.executor
    assert executor.max_memory_bytes == DEFAULT_MAX_MEMORY_BYTES
    assert 16 * 2**10 + AER_RESULT_BYTES <= executor.binding_bytes < 64 << 10
    x = torch.rand(4, 10, requires_grad=True)
    layer(x).sum().backward()
    assert executor.calls == 2  # forward, backward (240 bindings)
    # a training batch of 64 (3,840 bindings, ~140 MiB) still fits the default budget
    assert executor.chunk_sizes(64 * 2 * 30) == [64 * 2 * 30]


def _layers(spec, budget_bindings=None, **kwargs):
    single = hq.QuantumLayer(spec, **kwargs)
    split = hq.QuantumLayer(spec, **kwargs)
    cost = split.engine.executor.binding_bytes
    options = {"max_memory_bytes": cost * budget_bindings}
    split.set_backend(kwargs.get("backend", "aer"), backend_options=options)
    split.load_state_dict(single.state_dict())
    return single, split


def test_split_backward_equals_one_call_exactly():
    spec = rich_spec()
    single, split = _layers(spec, budget_bindings=7)
    x = torch.rand(5, spec.n_inputs, dtype=torch.float64)
    xs, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_single, out_split = single(xs), split(xc)
    out_single.sum().backward()
    out_split.sum().backward()
    m = split.engine.executor.evaluations - 5  # shifted bindings (one pair per occurrence)
    assert m == single.engine.executor.evaluations - 5 > 7
    assert single.engine.executor.calls == 2
    assert split.engine.executor.calls == 1 + math.ceil(m / 7)  # forward fits (5 <= 7)
    assert torch.equal(out_single, out_split)
    assert torch.equal(xs.grad, xc.grad)
    assert torch.equal(single.weight.grad, split.weight.grad)


def test_tracker_and_evaluations_count_each_call_of_a_split_pass():
    shiftable = ShiftableCircuit(circuits.variational(3, 1))
    executor = make_executor(shiftable, "aer")
    executor.max_memory_bytes = executor.binding_bytes * 4
    angles = np.random.default_rng(1).uniform(-3, 3, (10, shiftable.n_angles))
    with tracking.Tracker() as tracker:
        out = executor.run(angles)
    assert (tracker.calls, tracker.evaluations) == (3, 10)
    assert (executor.calls, executor.evaluations) == (3, 10)
    np.testing.assert_array_equal(out, make_executor(shiftable, "aer").run(angles))


def test_budget_option_reaches_the_executor_and_not_aer():
    spec = circuits.variational(2, 1)
    layer = hq.QuantumLayer(spec, backend_options={"max_memory_bytes": 12345})
    assert layer.engine.executor.max_memory_bytes == 12345
    assert not hasattr(layer.engine.executor.estimator.simulator.options, "max_memory_bytes")
    layer(torch.rand(2, 2)).sum().backward()  # Aer ran without an unknown option


def test_binding_estimate_follows_the_simulation_method():
    shiftable = ShiftableCircuit(circuits.variational(4, 1))
    sv = make_executor(shiftable, "aer").binding_bytes
    dm = make_executor(shiftable, "aer", backend_options={"method": "density_matrix"})
    mps = make_executor(shiftable, "aer", backend_options={"method": "matrix_product_state"})
    assert dm.binding_bytes - sv == 16 * (4**4 - 2**4)
    assert mps.binding_bytes < sv
    sampled = make_executor(shiftable, "fake_manila", shots=1000)
    assert sampled.binding_bytes >= 1000 * 8  # every shot is stored


# -- seeded shots across calls ---------------------------------------------------------------------


def _mixed_spec():
    base = circuits.variational(3, 1)
    observables = [SparsePauliOp("ZZI"), SparsePauliOp("IXX"), SparsePauliOp("YIZ")]
    return ParameterizedCircuit(base.circuit, base.input_params, base.weight_params, observables)


def _single_and_split(spec, backend, budget_bindings, **kwargs):
    shiftable = ShiftableCircuit(spec)
    single = make_executor(shiftable, backend, **kwargs)
    split = make_executor(shiftable, backend, **kwargs)
    split.max_memory_bytes = split.binding_bytes * budget_bindings
    return single, split


@pytest.mark.parametrize("spec", [circuits.variational(3, 1), _mixed_spec()])
def test_seeded_born_sampling_is_the_same_however_a_pass_is_split(spec):
    single, split = _single_and_split(spec, "aer", 7, shots=100, seed=3)
    assert len(single._groups) in (1, 3)
    angles = np.random.default_rng(0).uniform(-3, 3, (40, single.shiftable.n_angles))
    for _ in range(2):  # two passes: each draws its own seed, the same for both executors
        np.testing.assert_array_equal(single.run(angles), split.run(angles))
    assert (single.calls, split.calls) == (2, 12)
    states = {str(rng.bit_generator.state) for rng in split._pass["rngs"]}
    assert len(states) == len(split._groups)  # independent draws per measurement group


TRAJECTORIES = {"noisy_simulation": "trajectories"}  # Aer's own sampler on a fake device


def test_seeded_aer_sampler_with_one_group_is_the_same_however_a_pass_is_split():
    single, split = _single_and_split(
        circuits.variational(3, 1),
        "fake_manila",
        6,
        shots=100,
        seed=5,
        backend_options=TRAJECTORIES,
    )
    angles = np.random.default_rng(0).uniform(-3, 3, (20, single.shiftable.n_angles))
    np.testing.assert_array_equal(single.run(angles), split.run(angles))
    assert split.calls == 4


def test_split_aer_sampler_passes_never_reuse_a_seed(monkeypatch):
    seeds = []
    original = sampler_executor.set_sampler_seed

    def spy(sampler, seed):
        seeds.append(seed)
        original(sampler, seed)

    monkeypatch.setattr(sampler_executor, "set_sampler_seed", spy)
    _, split = _single_and_split(
        _mixed_spec(), "fake_manila", 6, shots=50, seed=5, backend_options=TRAJECTORIES
    )
    groups = len(split._groups)
    assert groups == 3
    angles = np.random.default_rng(0).uniform(-3, 3, (20, split.shiftable.n_angles))
    first = split.run(angles)
    sizes = split.chunk_sizes(20)
    # Aer seeds experiment e of a call with seed + 2113 e, e over (group, binding)
    experiments = [
        s + 2113 * e for s, m in zip(seeds, sizes, strict=True) for e in range(groups * m)
    ]
    assert len(set(experiments)) == groups * 20
    _, again = _single_and_split(
        _mixed_spec(), "fake_manila", 6, shots=50, seed=5, backend_options=TRAJECTORIES
    )
    np.testing.assert_array_equal(again.run(angles), first)  # reproducible with the same budget


# -- up-front size checks --------------------------------------------------------------------------


@pytest.mark.parametrize("shots", [None, 100])
def test_too_many_qubits_on_aer_names_the_memory(shots):
    accepted = {"max_memory_bytes": 1 << 45}  # past the large-register guard (see its tests)
    with pytest.raises(BackendError, match=r"40 qubits.*17,592,186,044,416 bytes.*limit is"):
        hq.QuantumLayer(
            circuits.variational(40, 1), backend="aer", shots=shots, backend_options=accepted
        )


def test_aer_max_memory_mb_is_the_limit():
    with pytest.raises(BackendError, match=r"17 qubits.*2,097,152 bytes.*1,048,576.*max_memory_mb"):
        hq.QuantumLayer(circuits.variational(17, 1), backend_options={"max_memory_mb": 1})
    hq.QuantumLayer(circuits.variational(16, 1), backend_options={"max_memory_mb": 1})  # fits


def test_torch_memory_check_counts_the_observable_tables_before_building_them(monkeypatch):
    n = 16
    x = Parameter("x")
    qc = QuantumCircuit(n)
    qc.ry(x, 0)
    observables = [SparsePauliOp("X" * n), *(f"{'I' * (n - 1 - q)}Z{'I' * q}" for q in range(n))]
    spec = ParameterizedCircuit(qc, [x], observables=observables)
    table = PauliTable.estimate_bytes(spec.observables, n)
    # two groups (X mask 0 with 16 Z masks, the all-X mask with one): 2^8 + 2^8 rows of signs
    assert table == (8 * (2**8 + 2**8) + 16 + 8 * (n + 1)) * (n + 1)
    states = 2 * 2**n * 16

    def fail(*args, **kwargs):
        raise AssertionError("the table was allocated before the memory check")

    monkeypatch.setattr(PauliTable, "__init__", fail)
    limit = states + table // 2
    with pytest.raises(BackendError, match=rf"observable sign tables.*limit is {limit:,} bytes"):
        TorchSimulator(qc, [x], spec.observables, max_memory_bytes=limit)


# -- options refused at construction ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["aer", "torch"])
@pytest.mark.parametrize("level", [4, -1, 1.5, True, "1"])
def test_optimization_level_out_of_range_is_refused(backend, level):
    with pytest.raises(ConfigurationError, match=rf"from 0 to 3.*got {level!r}"):
        hq.QuantumLayer(circuits.ry(1), backend=backend, optimization_level=level)


def test_optimization_level_is_checked_by_set_backend_and_make_executor():
    layer = hq.QuantumLayer(circuits.ry(1))
    with pytest.raises(ConfigurationError, match="from 0 to 3"):
        layer.set_backend("aer", optimization_level=9)
    with pytest.raises(ConfigurationError, match="from 0 to 3"):
        make_executor(ShiftableCircuit(circuits.ry(1)), "aer", optimization_level=-2)
    hq.QuantumLayer(circuits.ry(1), optimization_level=3)


def test_shots_above_the_bound_are_refused():
    with pytest.raises(ConfigurationError, match=r"at most 100,000,000 \(got 9,223,"):
        hq.QuantumLayer(circuits.ry(1), shots=2**63)
    with pytest.raises(ConfigurationError, match="at most"):
        hq.QuantumLayer(circuits.ry(1), backend="fake_manila", shots=MAX_SHOTS + 1)
    assert hq.QuantumLayer(circuits.ry(1), shots=MAX_SHOTS).engine.shots == MAX_SHOTS


@pytest.mark.parametrize("backend", ["aer", "torch"])
@pytest.mark.parametrize("gradient", [None, "parameter-shift"])
@pytest.mark.parametrize("limit", [-1, 0, True, 1.5e9])
def test_memory_limits_must_be_positive(backend, gradient, limit):
    with pytest.raises(ConfigurationError, match=rf"max_memory_bytes must be .*got {limit!r}"):
        hq.QuantumLayer(
            circuits.ry(1),
            backend=backend,
            gradient=gradient,
            backend_options={"max_memory_bytes": limit},
        )


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_meta_tensors_are_input_errors(backend):
    layer = hq.QuantumLayer(circuits.variational(2, 1), backend=backend)
    with pytest.raises(InputError, match="inputs are on the meta device"):
        layer(torch.rand(3, 2, device="meta"))
    with pytest.raises(InputError, match="weight is on the meta device"):
        layer(torch.rand(3, 2), weight=torch.rand(2, device="meta"))
    with pytest.raises(InputError, match="weight is on the meta device"):
        layer.to("meta")(torch.rand(3, 2))


@pytest.mark.parametrize("shots", [None, 100])
def test_exact_noisy_passes_are_the_same_however_split(shots):
    """The exact noisy distribution (values or shots drawn from it) splits like the Born path."""
    single, split = _single_and_split(_mixed_spec(), "fake_manila", 6, shots=shots, seed=5)
    assert type(single.sampler).__name__ == "DensityMatrixSampler"
    angles = np.random.default_rng(0).uniform(-3, 3, (20, single.shiftable.n_angles))
    np.testing.assert_allclose(split.run(angles), single.run(angles), rtol=0, atol=1e-12)
    assert (single.calls, split.calls) == (1, 4)


def test_seeded_probability_outputs_on_aers_sampler_are_the_same_however_a_pass_is_split():
    # each call of a split pass continues Aer's per-binding seeds (seed + 2113 * row): the
    # split run draws exactly the shots of the unsplit one
    spec = circuits.variational(3, 1).with_outputs(hq.circuits.Probabilities(qubits=[0, 2]))
    single, split = _single_and_split(
        spec, "fake_manila", 6, shots=100, seed=5, backend_options=TRAJECTORIES
    )
    assert type(single).__name__ == "ProbabilityExecutor"
    angles = np.random.default_rng(1).uniform(-3, 3, (20, single.shiftable.n_angles))
    first = single.run(angles)
    np.testing.assert_array_equal(first, split.run(angles))
    assert split.calls == 4
    assert len({tuple(row) for row in first}) == len(first)  # fresh shots for every binding
