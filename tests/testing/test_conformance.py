"""The backend conformance suite (issue 22): every built-in backend passes, planted faults fail."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.primitives import StatevectorEstimator
from qiskit.primitives.containers import DataBin, PubResult
from qiskit.providers.basic_provider import BasicSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

from hybridqml.execution import Executor
from hybridqml.execution import _registry as registry
from hybridqml.testing import check_backend
from hybridqml.testing._conformance import CHECKS, ConformanceReport

ALL = set(CHECKS)


def _noise_model() -> NoiseModel:
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.02, 1), ["ry", "rx", "h"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    noise.add_all_qubit_readout_error(ReadoutError([[0.98, 0.02], [0.04, 0.96]]))
    noise.add_readout_error(ReadoutError([[0.97, 0.03], [0.06, 0.94]]), [0])
    return noise


def _skipped(report: ConformanceReport) -> set[str]:
    return {check for check, _ in report.skipped}


@pytest.mark.parametrize(
    ("backend", "options", "skipped"),
    [
        pytest.param("aer", {}, {"shots"}, id="aer-exact"),
        pytest.param("aer", {"shots": 4000}, set(), id="aer-shots"),
        pytest.param("torch", {}, {"chunks", "shots"}, id="torch"),
        pytest.param("fake_manila", {}, {"shots"}, id="fake_manila-exact-noisy"),
        pytest.param(
            "aer",
            {"shots": 4000, "backend_options": {"noise_model": _noise_model()}},
            set(),
            id="aer-noise-model-shots",
        ),
    ],
)
def test_builtin_backends_pass(backend, options, skipped):
    report = check_backend(backend, **options)
    assert _skipped(report) == skipped
    assert set(report.ran) == ALL - skipped
    noisy = backend.startswith("fake_") or "backend_options" in options
    assert report.reference == ("Aer density matrix" if noisy else "Statevector")


def test_a_generic_estimator_passes_and_skips_what_it_cannot_do():
    report = check_backend(StatevectorEstimator())
    assert report.backend == "StatevectorEstimator"
    assert _skipped(report) == {"chunks", "shots", "probabilities"}
    reasons = dict(report.skipped)
    assert "declares no probability outputs" in reasons["probabilities"]
    assert "never splits" in reasons["chunks"]


def test_a_backend_v2_passes_with_shots():
    report = check_backend(BasicSimulator(), shots=1000, checks=["values", "calls", "shots"])
    assert report.ran == ("values", "calls", "shots")
    assert ("gradients", "not selected") in report.skipped


def test_unknown_checks_are_a_value_error():
    with pytest.raises(ValueError, match="unknown checks"):
        check_backend("aer", checks=["speed"])


# -- planted faults ------------------------------------------------------------------------------


class SignFlippedEstimator(StatevectorEstimator):
    """Statevector values with the wrong sign."""

    def _run_pub(self, pub):
        result = super()._run_pub(pub)
        evs = -np.asarray(result.data.evs)
        return PubResult(DataBin(evs=evs, stds=result.data.stds, shape=evs.shape), result.metadata)


def test_a_sign_flipped_estimator_fails_the_values_check():
    with pytest.raises(AssertionError) as info:
        check_backend(SignFlippedEstimator(), checks=["values", "calls"])
    message = str(info.value)
    assert "[values] circuit 'ry'" in message
    assert "closed form -sin x" in message and "Statevector" in message
    assert "[calls]" not in message  # it still makes one call per pass


class PlantedExecutor(Executor):
    """Exact Aer values with one planted fault (a backend plugin a tester might write)."""

    def __init__(self, request, fault: str) -> None:
        super().__init__(request.shiftable, name=f"planted-{fault}", shots=None)
        self.inner = registry.make_executor(request.shiftable, "aer")
        self.binding_bytes = self.inner.binding_bytes
        self.fault = fault

    def run(self, angles):
        out = super().run(angles)
        if self.fault == "two-calls":
            out = super().run(angles)
        if self.fault == "chunks" and len(self.chunk_sizes(len(angles))) > 1:
            out = out + 1e-3  # a split pass drifts
        return out

    def _run(self, angles):
        if self.fault == "flipped-angle":
            angles = np.array(angles)
            angles[:, 0] = -angles[:, 0]
        return self.inner._run(angles)


@pytest.fixture
def planted():
    entries = [
        registry.BackendEntry(
            name=f"planted-{fault}",
            by_name=True,
            matches=lambda b, _options, fault=fault: b == f"planted-{fault}",
            build=lambda backend, request, fault=fault: PlantedExecutor(request, fault),
        )
        for fault in ("flipped-angle", "two-calls", "chunks")
    ]
    for entry in entries:
        registry.register_backend(entry)
    yield
    for entry in entries:
        registry.unregister_backend(entry.name)


@pytest.mark.usefixtures("planted")
@pytest.mark.parametrize(
    ("fault", "check", "others"),
    [
        ("flipped-angle", "values", ("calls", "chunks")),
        ("two-calls", "calls", ("values", "dry_run")),
        ("chunks", "chunks", ("values", "calls")),
    ],
)
def test_a_planted_fault_fails_its_check(fault, check, others):
    with pytest.raises(AssertionError) as info:
        check_backend(f"planted-{fault}", checks=[check, *others])
    message = str(info.value)
    assert f"backend 'planted-{fault}' failed the conformance suite" in message
    assert f"[{check}] circuit 'variational'" in message or f"[{check}] circuit 'ry'" in message
    for other in others:  # the fault is caught by its own check only
        assert f"[{other}]" not in message
