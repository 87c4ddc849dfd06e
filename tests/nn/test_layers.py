import io
import pickle

import numpy as np
import pytest
import torch
from _circuits import rich_spec
from _doubles import CountingEstimator
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from torch import nn

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import ConfigurationError, InputError


def test_readme_example_shapes_and_backward():
    spec = hq.circuits.variational(n_qubits=4, layers=2)
    layer = hq.QuantumLayer(spec, backend="aer")
    x = torch.rand(32, 4, requires_grad=True)
    y = layer(x)
    assert y.shape == (32, 4)
    y.sum().backward()
    assert x.grad.shape == (32, 4)
    assert layer.weight.grad.shape == (8,)
    assert torch.all(y.abs() <= 1 + 1e-6)


def test_closed_form_textbook_circuit():
    layer = hq.QuantumLayer(circuits.ry(1))
    x = torch.linspace(-3, 3, 9, dtype=torch.float64).reshape(-1, 1).requires_grad_()
    y = layer(x)
    torch.testing.assert_close(y, -torch.sin(x), atol=1e-12, rtol=0)
    y.sum().backward()
    torch.testing.assert_close(x.grad, -torch.cos(x.detach()), atol=1e-12, rtol=0)


def test_gradcheck_float64():
    spec = circuits.variational(n_qubits=2, layers=2, entanglement="full")
    layer = hq.QuantumLayer(spec)
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    w = torch.rand(spec.n_weights, dtype=torch.float64, requires_grad=True)

    def f(x, w):
        return hq.QuantumFunction.apply(x, w, layer.engine)

    assert torch.autograd.gradcheck(f, (x, w), eps=1e-6, atol=1e-6)


def test_one_call_forward_one_call_backward():
    spec = circuits.variational(n_qubits=3, layers=2)
    counter = CountingEstimator(AerEstimator())
    layer = hq.QuantumLayer(spec, backend=counter)
    x = torch.rand(16, 3, requires_grad=True)
    y = layer(x)
    assert len(counter.calls) == 1
    assert counter.calls[0] == [(16, 1)]  # one PUB: values (B, 1, K) against (O,) observables
    y.sum().backward()
    assert len(counter.calls) == 2
    k = spec.n_inputs + spec.n_weights
    assert counter.calls[1] == [(16 * 2 * k, 1)]


def test_input_gradients_skipped_when_not_needed():
    spec = circuits.variational(n_qubits=3, layers=1)
    counter = CountingEstimator(AerEstimator())
    layer = hq.QuantumLayer(spec, backend=counter)
    x = torch.rand(4, 3)
    layer(x).sum().backward()
    assert counter.calls[1] == [(4 * 2 * spec.n_weights, 1)]
    assert layer.weight.grad is not None


def test_no_backward_call_when_nothing_requires_grad():
    counter = CountingEstimator(AerEstimator())
    layer = hq.QuantumLayer(circuits.variational(2, 1), backend=counter)
    with torch.no_grad():
        layer(torch.rand(4, 2))
    assert len(counter.calls) == 1


def test_input_gradient_matches_finite_difference_through_classical_layers():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(3, 2), hq.QuantumLayer(circuits.variational(2, 2)), nn.Linear(2, 1)
    ).double()
    x = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    model(x).sum().backward()
    h = 1e-6
    fd = torch.zeros_like(x)
    with torch.no_grad():
        for i in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[i] = h
            fd[:, i] = (model(x + e) - model(x - e)).squeeze(1) / (2 * h)
    torch.testing.assert_close(x.grad, fd, atol=1e-7, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_input(dtype):
    layer = hq.QuantumLayer(circuits.variational(2, 1))
    x = torch.rand(3, 2, dtype=dtype, requires_grad=True)
    y = layer(x)
    assert y.dtype == dtype
    y.sum().backward()
    assert x.grad.dtype == dtype
    assert layer.weight.grad.dtype == layer.weight.dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_tensors():
    layer = hq.QuantumLayer(circuits.variational(2, 1)).cuda()
    x = torch.rand(3, 2, device="cuda", requires_grad=True)
    y = layer(x)
    assert y.device == x.device
    y.sum().backward()
    assert x.grad.device == x.device and layer.weight.grad.device == x.device


def test_single_sample_input():
    layer = hq.QuantumLayer(circuits.variational(3, 1))
    x = torch.rand(3)
    torch.testing.assert_close(layer(x), layer(x.unsqueeze(0))[0])
    assert layer(x).shape == (3,)


def test_state_dict_round_trip():
    spec = circuits.variational(3, 2)
    a = hq.QuantumLayer(spec)
    assert list(a.state_dict()) == ["weight"]
    b = hq.QuantumLayer(spec)
    assert not torch.equal(a.weight, b.weight)
    b.load_state_dict(a.state_dict())
    x = torch.rand(4, 3)
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize(
    ("options", "keys"),
    [({}, set()), ({"shots": 50}, {"executor"}), ({"gradient": "spsa"}, {"rule"})],
)
def test_random_state_replays_shot_noise_and_spsa_directions(options, keys):
    spec = circuits.variational(2, 1)
    seed = 5 if keys else None  # an exact layer refuses a seed: nothing to seed
    a = hq.QuantumLayer(spec, seed=seed, **options)
    x = torch.rand(3, 2, requires_grad=True)

    def step(layer):  # output and input gradient: shot noise shows in both, SPSA in the latter
        x.grad = None
        out = layer(x)
        out.sum().backward()
        return torch.cat([out.detach().flatten(), x.grad.flatten()])

    step(a)  # advance the generators
    state = a.random_state()
    assert set(state) == keys
    b = pickle.loads(pickle.dumps(a))  # pickling carries the generators too
    first = step(a)
    torch.testing.assert_close(step(b), first, rtol=0, atol=0)
    a.set_random_state(state)
    torch.testing.assert_close(step(a), first, rtol=0, atol=0)
    if keys:  # without the restore the next step differs
        assert not torch.equal(step(a), first)
    assert list(a.state_dict()) == ["weight"]  # the random state is not a parameter


@pytest.mark.parametrize(
    ("backend", "gradient"),
    [("aer", None), ("torch", None), ("torch", "parameter-shift"), ("aer", "spsa")],
)
@pytest.mark.parametrize("make_spec", [lambda: circuits.variational(3, 1), rich_spec])
def test_pickle_and_torch_save_of_model(backend, gradient, make_spec):
    # rich_spec has expressions (2*x, x*w) and controlled rotations: lambdified code inside
    spec = make_spec()
    model = nn.Sequential(
        nn.Linear(2, spec.n_inputs), hq.QuantumLayer(spec, backend=backend, gradient=gradient)
    )
    assert list(model[1].state_dict()) == ["weight"]
    x = torch.rand(4, 2)
    expected = model(x)
    clone = pickle.loads(pickle.dumps(model))
    torch.testing.assert_close(clone(x), expected)
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    torch.testing.assert_close(loaded(x), expected)
    loaded(x).sum().backward()


def test_training_reduces_loss():
    torch.manual_seed(3)
    x = torch.rand(24, 2) * 2 - 1
    target = (x[:, :1] * x[:, 1:] > 0).double() * 2 - 1
    model = nn.Sequential(hq.QuantumLayer(circuits.variational(2, 2)), nn.Linear(2, 1)).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x.double()), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (torch.rand(4, 3), r"shape \(batch, 2\)"),
        (torch.rand(2), None),
        (torch.rand(2, 2, 2), r"shape \(batch, 2\)"),
        (torch.empty(0, 2), "empty batch"),
        (torch.tensor([[0.1, float("nan")]]), "NaN or inf"),
        (torch.tensor([[0.1, 0.2], [float("inf"), 0.0]]), r"rows \[1\]"),
        (torch.ones(3, 2, dtype=torch.int64), "floating-point"),
        (np.ones((3, 2)), "torch.Tensor"),
    ],
)
@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_bad_inputs(inputs, message, backend):
    layer = hq.QuantumLayer(circuits.variational(2, 1), backend=backend)
    if message is None:
        assert layer(inputs).shape == (2,)
        return
    with pytest.raises(InputError, match=message):
        layer(inputs)


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_nan_weight_is_reported(backend):
    layer = hq.QuantumLayer(circuits.variational(2, 1), backend=backend)
    with torch.no_grad():
        layer.weight[0] = float("nan")
    with pytest.raises(InputError, match="weight contains NaN"):
        layer(torch.rand(1, 2))
    per_sample = torch.zeros(3, 2)
    per_sample[1, 1] = float("inf")
    with pytest.raises(InputError, match="weight contains NaN or inf"):
        layer(torch.rand(3, 2), weight=per_sample)


@pytest.mark.parametrize("shots", [0, -5, 2.5, True])
def test_bad_shots(shots):
    with pytest.raises(ConfigurationError, match="shots must be a positive integer"):
        hq.QuantumLayer(circuits.ry(1), shots=shots)


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, True])
def test_bad_seed(seed):
    with pytest.raises(ConfigurationError, match="seed must be a non-negative integer"):
        hq.QuantumLayer(circuits.ry(1), shots=10, seed=seed)
    with pytest.raises(ConfigurationError, match="seed must be a non-negative integer"):
        hq.QuantumLayer(circuits.ry(1), gradient="spsa", seed=seed)


@pytest.mark.parametrize("backend", ["aer", "fake_manila"])
def test_unknown_aer_backend_options_are_configuration_errors(backend):
    with pytest.raises(ConfigurationError, match=r"invalid backend_options for Aer.*foo"):
        hq.QuantumLayer(circuits.ry(1), backend=backend, backend_options={"foo": 1})


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("qasm_simulator", "unknown backend 'qasm_simulator'"),
        ("fake_nowhere", "unknown fake device 'fake_nowhere'.*fake_manila"),
        (42, "unsupported backend object of type int"),
        ("ibm:", "unknown backend"),
    ],
)
def test_unknown_backends(backend, message):
    with pytest.raises(ConfigurationError, match=message):  # a configuration mistake
        hq.QuantumLayer(circuits.ry(1), backend=backend)


def test_unknown_gradient():
    with pytest.raises(ConfigurationError, match="unknown gradient"):
        hq.QuantumLayer(circuits.ry(1), gradient="magic")


def test_spec_type_checked():
    with pytest.raises(hq.CircuitError, match="expected a ParameterizedCircuit"):
        hq.QuantumLayer("ry")  # type: ignore[arg-type]


def test_finite_diff_and_spsa_layers_train_end_to_end():
    x = torch.rand(4, 2, requires_grad=True)
    for gradient in ("finite-diff", "spsa"):
        seed = 1 if gradient == "spsa" else None  # finite differences have nothing to seed
        layer = hq.QuantumLayer(circuits.variational(2, 1), gradient=gradient, seed=seed)
        layer(x).sum().backward()
        assert torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("gradient", ["finite-diff", "spsa"])
def test_tiny_difference_steps_under_shot_noise_are_refused(gradient):
    spec = circuits.ry(1)
    with pytest.raises(ConfigurationError, match=r"parameter-shift.*epsilon=0.1"):
        hq.QuantumLayer(spec, shots=1000, gradient=gradient)
    with pytest.raises(ConfigurationError, match="1024-shot noise"):
        hq.QuantumLayer(spec, backend="fake_manila", shots=1024, gradient=gradient)
    hq.QuantumLayer(spec, backend="fake_manila", gradient=gradient)  # exact noisy: no shot noise
    layer = hq.QuantumLayer(spec, gradient=gradient)
    with pytest.raises(ConfigurationError, match="shot noise"):
        layer.set_backend("aer", shots=100, gradient=gradient)
    assert layer.engine.shots is None  # the failed switch changed nothing


def test_a_large_enough_finite_difference_step_works_with_shots():
    from hybridqml.gradients import FiniteDifference

    layer = hq.QuantumLayer(
        circuits.ry(1), shots=20000, seed=3, gradient=FiniteDifference(epsilon=0.2)
    )
    x = torch.full((1, 1), 0.3, requires_grad=True)
    layer(x).sum().backward()
    # central difference of -sin x with h = 0.2: -cos(x) sin(h) / h, shot noise ~ 0.018
    expected = -np.cos(0.3) * np.sin(0.2) / 0.2
    assert abs(x.grad.item() - expected) < 0.08


def test_repr_mentions_backend():
    layer = hq.QuantumLayer(circuits.ry(1), backend="aer", shots=64, seed=0)
    assert "backend='aer'" in repr(layer) and "shots=64" in repr(layer)


def test_tracker_counts_calls_evaluations_and_shots():
    from hybridqml.execution._tracking import Tracker

    spec = circuits.variational(2, 1)  # 4 parameter occurrences
    exact = hq.QuantumLayer(spec)
    sampled = hq.QuantumLayer(spec, shots=50, seed=0)
    x = torch.rand(3, 2, requires_grad=True)
    with Tracker() as outer:
        exact(x).sum().backward()
        with Tracker() as inner:
            sampled(x).sum()
    assert (outer.calls, outer.evaluations) == (3, 3 + 3 * 2 * 4 + 3)
    assert (inner.calls, inner.evaluations, inner.shots) == (1, 3, 150)
    assert outer.by_backend == {"aer": 30}
    exact(x)
    assert outer.calls == 3  # inactive after the with block


def test_backward_with_nothing_to_differentiate_in_the_layer():
    # the textbook circuit has no weights: fed by data that needs no gradient, backward must
    # still work (the loss may depend on other parameters) and run no circuit
    from hybridqml.execution._tracking import Tracker

    layer = hq.QuantumLayer(circuits.ry(1))
    scale = nn.Parameter(torch.tensor(2.0))
    with Tracker() as tracker:
        (layer(torch.rand(4, 1)) * scale).sum().backward()
    assert scale.grad is not None
    assert tracker.calls == 1  # the forward pass only
