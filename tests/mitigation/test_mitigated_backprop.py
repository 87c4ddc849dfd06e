"""Mitigation inside the noisy torch engine's autograd graph (backprop), against references.

References: the sampler executors' mitigation on Aer's ``fake_manila`` backend (a separate
implementation: numpy distributions, ``correct_distribution``, ``extrapolate``), central
differences of the mitigated values, and Statevector for the noiseless values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.quantum_info import SparsePauliOp, Statevector
from test_mitigated_layers import _central

import hybridqml as hq
from hybridqml.exceptions import ConfigurationError
from hybridqml.mitigation import Mitigation

DEVICE = {"backend": "torch", "backend_options": {"device": "fake_manila"}}
SPEC = hq.circuits.variational(3, 2)
RNG = np.random.default_rng(25)
W = torch.tensor(RNG.uniform(-2, 2, SPEC.n_weights))
X = torch.tensor(RNG.uniform(-2, 2, (4, 3)))


def _noiseless(spec, x, w):
    out = []
    for row in x:
        qc = spec.circuit.assign_parameters(dict(zip(spec.parameters, [*row, *w], strict=True)))
        out.append([Statevector(qc).expectation_value(o).real for o in spec.observables])
    return np.array(out)


@pytest.mark.parametrize("mode", ["readout", "zne", "readout+zne"])
def test_values_equal_the_aer_fake_device_path(mode):
    torch_layer = hq.QuantumLayer(SPEC, mitigation=mode, init=W.clone(), **DEVICE)
    aer_layer = hq.QuantumLayer(SPEC, backend="fake_manila", mitigation=mode, init=W.clone())
    raw = hq.QuantumLayer(SPEC, init=W.clone(), **DEVICE)
    with torch.no_grad():
        got, want, noisy = torch_layer(X), aer_layer(X), raw(X)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
    assert (got - noisy).abs().max() > 1e-3  # a no-op mitigation would fail here
    # and the mitigation helps against the noiseless values
    ref = _noiseless(SPEC, X.numpy(), W.numpy())
    assert np.abs(got.numpy() - ref).mean() < np.abs(noisy.numpy() - ref).mean()


def test_backprop_gradients_are_central_differences_of_the_mitigated_values():
    layer = hq.QuantumLayer(SPEC, mitigation="readout+zne", init=W.clone(), **DEVICE)
    assert layer.engine.gradient == "backprop"
    x = X[:1].clone().requires_grad_()
    layer(x).sum().backward()
    cx, cw = _central(layer, x.detach())
    np.testing.assert_allclose(x.grad.numpy()[0], cx, atol=1e-7)
    np.testing.assert_allclose(layer.weight.grad.numpy(), cw, atol=1e-7)


@pytest.mark.parametrize("mode", ["zne", "readout+zne"])
@pytest.mark.parametrize("factors", [(1, 3, 5), (1, 2, 3), (1, 1.5, 2.2)])
def test_parameter_shift_through_zne_is_exact(mode, factors):
    """The per-copy rule equals central differences and the torch engine's backprop.

    (1, 2, 3) and (1, 1.5, 2.2) fold only the last gates partway: copies per occurrence differ.
    """
    m = Mitigation(readout="readout" in mode, zne=True, scale_factors=factors)
    layer = hq.QuantumLayer(SPEC, backend="fake_manila", mitigation=m, init=W.clone())
    assert layer.engine.gradient == "parameter-shift"
    x = X[:1].clone().requires_grad_()
    layer(x).sum().backward()
    cx, cw = _central(layer, x.detach())
    np.testing.assert_allclose(layer.weight.grad.numpy(), cw, atol=1e-8)
    np.testing.assert_allclose(x.grad.numpy()[0], cx, atol=1e-8)
    # an independent implementation: autograd through the noisy torch engine's density matrix
    torch_layer = hq.QuantumLayer(SPEC, mitigation=m, init=W.clone(), **DEVICE)
    xt = X[:1].clone().requires_grad_()
    torch_layer(xt).sum().backward()
    torch.testing.assert_close(layer.weight.grad, torch_layer.weight.grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(x.grad, xt.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("outputs", ["probabilities", "two measurement groups"])
def test_per_copy_gradients_of_other_outputs_equal_backprop(outputs):
    """Probability outputs, and observables measured in two bases (6 folded PUBs)."""
    spec = hq.circuits.variational(2, 2)
    w = torch.tensor(RNG.uniform(-2, 2, spec.n_weights))
    if outputs == "probabilities":
        layer_type = hq.SamplerLayer
    else:
        spec = spec.with_outputs([SparsePauliOp(["XI", "ZZ"]), SparsePauliOp("IY")])
        layer_type = hq.QuantumLayer
    grads = []
    for options in ({"backend": "fake_manila"}, DEVICE):
        layer = layer_type(spec, mitigation="readout+zne", init=w.clone(), **options)
        x = X[:2, :2].clone().requires_grad_()
        grads.append(torch.autograd.grad(layer(x).pow(2).sum(), [x, layer.weight]))
    if outputs != "probabilities":
        assert layer.engine.mitigation["gradient"] == "backprop (exact)"
    for shifted, backprop in zip(*grads, strict=True):
        torch.testing.assert_close(shifted, backprop, rtol=0, atol=1e-12)


def test_the_shared_angle_rule_is_measurably_wrong():
    """Why the per-copy rule exists: on this circuit the shared-angle rule is off by > 1e-3."""
    m = Mitigation(zne=True, shift_rule="shared")
    layer = hq.QuantumLayer(SPEC, backend="fake_manila", mitigation=m, init=W.clone())
    x = X[:1].clone()
    layer(x).sum().backward()
    _, cw = _central(layer, x)
    assert np.abs(layer.weight.grad.numpy() - cw).max() > 1e-3
    assert layer.engine.mitigation["shift_rule_exact"] is False


@pytest.mark.parametrize(
    ("mitigation", "match"),
    [
        (Mitigation(zne=True, extrapolator="exponential"), "exponential"),
        (Mitigation(readout=True, calibration="circuits"), "calibration='circuits'"),
    ],
)
def test_non_linear_or_measured_mitigation_names_parameter_shift(mitigation, match):
    with pytest.raises(ConfigurationError, match=f"(?s){match}.*gradient='parameter-shift'"):
        hq.QuantumLayer(SPEC, mitigation=mitigation, **DEVICE)
    # and parameter shift takes it
    hq.QuantumLayer(SPEC, mitigation=mitigation, gradient="parameter-shift", shots=1000, **DEVICE)


def test_probability_outputs_equal_the_aer_path_and_project_is_refused():
    spec = hq.circuits.variational(2, 2)
    w = torch.tensor(RNG.uniform(-2, 2, spec.n_weights))
    x = torch.tensor(RNG.uniform(-2, 2, (3, 2)))
    got = hq.SamplerLayer(spec, mitigation="readout+zne", init=w, **DEVICE)(x).detach()
    want = hq.SamplerLayer(spec, backend="fake_manila", mitigation="readout+zne", init=w)(x)
    torch.testing.assert_close(got, want.detach(), rtol=0, atol=1e-10)
    torch.testing.assert_close(got.sum(1), torch.ones(3, dtype=got.dtype), rtol=0, atol=1e-12)
    with pytest.raises(ConfigurationError, match="project=True"):
        hq.SamplerLayer(spec, mitigation=Mitigation(readout=True, project=True), **DEVICE)


def test_the_record_names_the_exact_gradient_and_the_calibration():
    layer = hq.QuantumLayer(SPEC, mitigation="readout+zne", **DEVICE)
    record = layer.engine.mitigation
    assert record["mode"] == "readout+zne" and record["gradient"] == "backprop (exact)"
    assert len(record["realized_scale_factors"][0]) == 3
    assert record["readout_calibration"]["source"] == "noise_model"
    shift = hq.QuantumLayer(SPEC, backend="fake_manila", mitigation="zne")
    assert shift.engine.mitigation["shift_rule_exact"] is True
    assert shift.engine.mitigation["shift_rule"] == "per-copy"
    readout = hq.QuantumLayer(SPEC, backend="fake_manila", mitigation="readout")
    assert readout.engine.mitigation["shift_rule_exact"] is True
    # a non-linear step (the simplex projection) makes no rule exact
    projected = hq.SamplerLayer(
        hq.circuits.variational(2, 1),
        backend="fake_manila",
        mitigation=Mitigation(readout=True, zne=True, project=True),
    )
    assert projected.engine.mitigation["shift_rule_exact"] is False
