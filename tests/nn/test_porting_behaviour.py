"""Initial weights, weightless layers, set_backend defaults, per-layer shot streams (issue 15)."""

import functools
import gc
import math

import numpy as np
import pytest
import torch

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._tracking import Tracker
from hybridqml.nn._engine import CircuitEngine


def test_init_tensor_array_and_initializer():
    spec = circuits.variational(2, 2)
    w = torch.arange(4, dtype=torch.float64) / 10
    layer = hq.QuantumLayer(spec, init=w)
    assert layer.weight.dtype == torch.float64 and torch.equal(layer.weight.data, w)
    w[0] = 9.0  # the layer holds a copy
    assert layer.weight[0].item() == 0.0
    from_numpy = hq.QuantumLayer(spec, init=np.array([0.1, 0.2, 0.3, 0.4]))
    assert from_numpy.weight.tolist() == [0.1, 0.2, 0.3, 0.4]
    zeros = hq.QuantumLayer(spec, init=torch.nn.init.zeros_)
    assert zeros.weight.tolist() == [0.0] * 4
    torch.manual_seed(0)
    small = hq.QuantumLayer(spec, init=functools.partial(torch.nn.init.uniform_, a=0.0, b=0.01))
    assert float(small.weight.detach().min()) >= 0.0 and float(small.weight.detach().max()) <= 0.01
    torch.manual_seed(0)
    default = hq.QuantumLayer(spec).weight.detach()
    assert float(default.abs().max()) <= math.pi and float(default.abs().max()) > 0.01
    returning = hq.QuantumLayer(spec, init=lambda t: torch.ones(4))  # returns, not in place
    assert returning.weight.tolist() == [1.0] * 4


@pytest.mark.parametrize(
    ("init", "match"),
    [
        (torch.zeros(2, 2), r"shape \(2, 2\).*4 weights.*reshape"),
        (torch.zeros(3), r"shape \(3,\)"),
        (lambda t: "nope", "returned str"),
        (lambda t: 1 / 0, "ZeroDivisionError"),
        (torch.tensor([0.0, math.nan, 0.0, 0.0]), "NaN"),
        ("abc", "tensor, an array or an initializer|shape"),
    ],
)
def test_bad_init_is_a_clear_configuration_error(init, match):
    with pytest.raises(ConfigurationError, match=match):
        hq.QuantumLayer(circuits.variational(2, 2), init=init)


def test_weightless_layer_registers_no_parameter_and_round_trips_strictly():
    layer = hq.QuantumLayer(circuits.ry(2))
    assert layer.weight is None and list(layer.parameters()) == []
    assert layer.state_dict() == {}
    other = hq.QuantumLayer(circuits.ry(2))
    other.load_state_dict(layer.state_dict(), strict=True)
    # a checkpoint written when the empty weight was still a parameter loads too
    other.load_state_dict({"weight": torch.zeros(0)}, strict=True)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), hq.QuantumLayer(circuits.ry(2)))
    copy = torch.nn.Sequential(torch.nn.Linear(2, 2), hq.QuantumLayer(circuits.ry(2)))
    copy.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.dtype == torch.float64
    out.sum().backward()
    expected = -torch.cos(x.detach())  # <Z> = -sin x on each qubit
    torch.testing.assert_close(x.grad, expected)
    with pytest.raises(ConfigurationError, match="0 weights"):
        hq.QuantumLayer(circuits.ry(1), init=torch.zeros(1))


def test_weighted_layer_round_trips_strictly():
    a = hq.QuantumLayer(circuits.variational(2, 1), init=torch.tensor([0.3, 0.4]))
    b = hq.QuantumLayer(circuits.variational(2, 1))
    b.load_state_dict(a.state_dict(), strict=True)
    assert b.weight.tolist() == pytest.approx([0.3, 0.4])


def test_set_backend_takes_the_new_backends_shots_and_gradient():
    layer = hq.QuantumLayer(circuits.ry(1), shots=1024, seed=1)
    layer.set_backend("fake_manila")
    assert layer.engine.shots is None  # exact noisy values, not 1024 shots
    layer.set_backend("aer")
    assert layer.engine.shots is None
    x = torch.tensor([[0.7]], dtype=torch.float64)
    torch.testing.assert_close(layer(x), -torch.sin(x))  # exact again: no shot noise
    layer.set_backend("aer", shots=50)
    assert layer.engine.shots == 50 and layer.engine._config["seed"] == 1  # seed is kept
    spsa = hq.QuantumLayer(circuits.ry(1), gradient="spsa")
    spsa.set_backend("torch")
    assert spsa.engine.gradient == "backprop"
    spsa.set_backend("aer", gradient="spsa")
    assert spsa.engine.gradient == "spsa"


def test_layers_sharing_a_seed_draw_independent_streams():
    theta = np.full((200, 1), 0.9)
    a = CircuitEngine(circuits.ry(1), shots=100, seed=4)
    b = CircuitEngine(circuits.ry(1), shots=100, seed=4)
    ea = a.forward(theta)[:, 0] + np.sin(0.9)
    eb = b.forward(theta)[:, 0] + np.sin(0.9)
    assert not np.array_equal(ea, eb)
    # independent errors: correlation within a few standard errors (1/sqrt(200)) of zero
    assert abs(np.corrcoef(ea, eb)[0, 1]) < 0.25
    first = (a._stream, b._stream)
    del a
    c = CircuitEngine(circuits.ry(1), shots=100, seed=4)  # takes the freed stream 0
    assert first == (0, 1) and c._stream == 0
    # stream 0 is the seed itself: a lone layer draws what it always drew
    np.testing.assert_array_equal(c.forward(theta)[:, 0] + np.sin(0.9), ea)


def test_an_unreachable_layer_in_a_reference_cycle_does_not_hold_its_stream():
    gc.disable()  # as if the collector had not run since the old layer became garbage
    try:
        old = CircuitEngine(circuits.ry(1), shots=10, seed=41)
        old.cycle = old  # unreachable after del, but not freed by reference counting
        assert old._stream == 0
        del old
        assert CircuitEngine(circuits.ry(1), shots=10, seed=41)._stream == 0
        kept = CircuitEngine(circuits.ry(1), shots=10, seed=42)
        assert CircuitEngine(circuits.ry(1), shots=10, seed=42)._stream == 1  # truly alive
        del kept
    finally:
        gc.enable()


def test_shared_seed_streams_keep_one_device_layout():
    spec = circuits.variational(5, 2, entanglement="full")  # routed: the layout is seeded
    a = CircuitEngine(spec, backend="fake_manila", shots=200, seed=7)
    b = CircuitEngine(spec, backend="fake_manila", shots=200, seed=7)
    layouts = [e.executor.isa_circuits[0].layout.final_index_layout() for e in (a, b)]
    assert layouts[0] == layouts[1]
    theta = np.full((2, 15), 0.4)
    assert not np.array_equal(a.forward(theta), b.forward(theta))  # but their own shots


def test_tracker_counts_torch_backward_passes():
    layer = hq.QuantumLayer(circuits.variational(2, 1), backend="torch")
    x = torch.rand(3, 2)
    with Tracker() as tracker:
        layer(x)  # no grad needed: forward only
    assert tracker.calls == 1
    with Tracker() as tracker:
        layer(x).sum().backward()
    assert (tracker.calls, tracker.evaluations) == (2, 6)
    adjoint = hq.QuantumLayer(circuits.variational(2, 1), backend="torch", gradient="adjoint")
    with Tracker() as tracker:
        adjoint(x).sum().backward()
    assert tracker.calls == 2


def test_ranks_of_a_data_parallel_run_draw_different_shot_noise(monkeypatch):
    """A seeded layer on rank r of a world of 2 draws its own stream; one process is unchanged."""
    from hybridqml import _ranks

    x = torch.full((30, 1), 0.4)

    def draw(rank, world):
        monkeypatch.setattr(_ranks, "rank", lambda: rank)
        monkeypatch.setattr(_ranks, "world_size", lambda: world)
        gc.collect()  # no earlier layer with this seed may hold stream 0
        layer = hq.QuantumLayer(hq.circuits.ry(1), shots=40, seed=7)
        with torch.no_grad():
            out = layer(x)
        del layer
        return out

    single, rank0, rank1 = draw(0, 1), draw(0, 2), draw(1, 2)
    assert torch.equal(draw(0, 1), single) and torch.equal(draw(1, 2), rank1)  # reproducible
    assert not torch.equal(rank0, rank1)  # the two ranks' shot noise differs
    assert not torch.equal(rank0, single)  # and a world of 2 is not the single-process stream
