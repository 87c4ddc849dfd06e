"""The backend registry: every spec resolves through one table, and a new backend is one entry."""

import numpy as np
import pytest
import torch

import hybridqml as hq
from hybridqml import circuits
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution import _registry as registry
from hybridqml.execution._capabilities import Capabilities
from hybridqml.execution._executor import Executor


class ConstantExecutor(Executor):
    """Returns cos of the first angle for every observable: a backend with a known answer."""

    def __init__(self, shiftable, *, scale):
        super().__init__(shiftable, name="constant", shots=None)
        self.scale = scale

    def _run(self, angles):
        n_obs = len(self.shiftable.observables)
        return self.scale * np.repeat(np.cos(angles[:, :1]), n_obs, axis=1)


@pytest.fixture
def constant_backend():
    entry = registry.BackendEntry(
        name="constant",
        build=lambda backend, request: ConstantExecutor(
            request.shiftable, scale=request.options.get("scale", 1.0)
        ),
        help="test double",
    )
    registry.register_backend(entry)
    yield entry
    registry.unregister_backend("constant")


def test_a_new_backend_is_one_registry_entry(constant_backend):
    assert "constant" in registry.registered_backends()
    layer = hq.QuantumLayer(circuits.ry(1), backend="constant", backend_options={"scale": 2.0})
    x = torch.tensor([[0.3], [1.1]], dtype=torch.float64, requires_grad=True)
    out = layer(x)
    torch.testing.assert_close(out, 2.0 * torch.cos(x.detach()))
    out.sum().backward()  # parameter shift through the new backend: d/dx 2cos x = -2 sin x
    torch.testing.assert_close(x.grad, -2.0 * torch.sin(x.detach()))
    with pytest.raises(ConfigurationError, match="registered already"):
        registry.register_backend(constant_backend)


def test_unregistered_backends_are_gone_and_unknown_names_are_refused(constant_backend):
    assert registry.unregister_backend("constant") is constant_backend
    assert "constant" not in registry.registered_backends()
    with pytest.raises(ConfigurationError, match="unknown backend 'constant'"):
        hq.QuantumLayer(circuits.ry(1), backend="constant")
    with pytest.raises(ConfigurationError, match="no backend named 'constant'"):
        registry.unregister_backend("constant")
    registry.register_backend(constant_backend)  # for the fixture's teardown


def test_capabilities_are_asked_not_types():
    assert registry.backend_capabilities("aer") == Capabilities(exact=True, shots=True)
    assert registry.backend_capabilities("fake_manila").noise
    assert registry.backend_capabilities("aer", {"noise_model": None}).noise
    assert registry.backend_capabilities("torch").option_family == "torch"
    exact_only = registry.BackendEntry(
        name="exact-only",
        build=lambda backend, request: ConstantExecutor(request.shiftable, scale=1.0),
        capabilities=Capabilities(exact=True, shots=False, probabilities=False),
    )
    registry.register_backend(exact_only)
    try:
        with pytest.raises(ConfigurationError, match="does not sample shots"):
            hq.QuantumLayer(circuits.ry(1), backend="exact-only", shots=10)
        with pytest.raises(ConfigurationError, match="not the probability outputs"):
            hq.SamplerLayer(circuits.ry(1), backend="exact-only")
        with pytest.raises(ConfigurationError, match="runtime options apply to IBM"):
            hq.QuantumLayer(circuits.ry(1), backend="exact-only", backend_options={"twirling": 1})
    finally:
        registry.unregister_backend("exact-only")


def test_unknown_names_list_every_registered_kind():
    with pytest.raises(ConfigurationError) as info:  # a configuration mistake, a ValueError
        registry.backend_entry("qasm")
    message = str(info.value)
    for name in ("'aer'", "'torch'", "'fake_<device>'", "'ibm:<backend name>'", "a BackendV2"):
        assert name in message


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("aer", "aer"),
        ("torch", "torch"),
        ("fake_manila", "fake_<device>"),
        ("ibm:x", "ibm:<backend name>"),
    ],
)
def test_names_resolve_to_their_entry(spec, kind):
    assert registry.backend_entry(spec).name == kind


def test_native_gradients_come_from_the_registry_only():
    assert registry.native_gradients("torch") == ("backprop", "adjoint")
    assert registry.native_gradients("fake_manila") == ()
    assert registry.all_native_gradients() == {
        "backprop": ["torch", "'torch' with noise"],
        "adjoint": ["torch"],
    }
    assert registry.same_options("aer", "fake_manila") and not registry.same_options("aer", "torch")


def test_executor_for_each_aer_mode():
    shiftable = ShiftableCircuit(circuits.ry(2))
    exact = registry.make_executor(shiftable, "aer")
    sampled = registry.make_executor(shiftable, "aer", shots=50, seed=1)
    assert type(exact).__name__ == "EstimatorExecutor" and exact.shots is None
    assert type(sampled).__name__ == "SamplerExecutor" and sampled.shots == 50
    assert type(sampled.sampler).__name__ == "AerBornSampler"
    torch_ex = registry.make_executor(shiftable, "torch")
    angles = np.array([[0.2, 0.7]])
    np.testing.assert_allclose(torch_ex.run(angles), exact.run(angles), atol=1e-10)
