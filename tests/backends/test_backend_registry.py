"""The backend registry: every spec resolves through one table, and a new backend is one entry."""

import numpy as np
import pytest
import torch

import hybridqml as hq
from hybridqml import circuits
from hybridqml.backends import registry
from hybridqml.backends.base import Executor
from hybridqml.circuits.shiftable import ShiftableCircuit
from hybridqml.exceptions import BackendError, ConfigurationError


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
        by_name=True,
        matches=lambda b: b == "constant",
        build=lambda backend, request: ConstantExecutor(
            request.shiftable, scale=request.options.get("scale", 1.0)
        ),
        help="test double",
    )
    registry.register_backend(entry)
    yield entry
    registry._REGISTRY.remove(entry)


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


def test_unknown_names_list_every_registered_kind():
    with pytest.raises(BackendError) as info:
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
    assert registry.all_native_gradients() == {"backprop": ["torch"], "adjoint": ["torch"]}
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
