"""Quantum layers under ``torch.compile``: the torch simulator compiles, other backends break.

The default run compiles with ``backend="aot_eager"`` (dynamo + AOT autograd, no C++ code
generation: inductor works here but needs minutes of compilation on a loaded CPU);
``test_inductor_matches_eager`` (slow) uses the default inductor backend.
"""

import sys

import numpy as np
import pytest
import torch
from _circuits import statevector_expectations

import hybridqml as hq
from hybridqml.execution import _tracking as tracking

pytestmark = [
    # dynamo itself reads `.grad` of the graph's non-leaf outputs when it resumes after a graph
    # break (torch/_dynamo/variables/builder.py); the warning is torch's, not the layer's
    pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf"),
    pytest.mark.skipif(sys.platform == "win32", reason="torch.compile needs a compiler"),
]

TOL = 1e-12


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _values_and_grads(module, x):
    x = x.detach().clone().requires_grad_(True)
    module.zero_grad()
    out = module(x)
    (out * torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    weights = [p.grad.clone() for p in module.parameters()]
    return out.detach(), x.grad.clone(), weights


def _assert_same(compiled, eager):
    out_c, gx_c, gw_c = compiled
    out_e, gx_e, gw_e = eager
    assert torch.allclose(out_c, out_e, rtol=0, atol=TOL)
    assert torch.allclose(gx_c, gx_e, rtol=0, atol=TOL)
    for a, b in zip(gw_c, gw_e, strict=True):
        assert torch.allclose(a, b, rtol=0, atol=TOL)


@pytest.mark.parametrize("gradient", ["backprop", "adjoint"])
def test_torch_backend_compiles_to_the_eager_values_and_gradients(gradient):
    spec = hq.circuits.variational(3, 1)
    torch.manual_seed(1)
    layer = hq.QuantumLayer(spec, backend="torch", gradient=gradient).double()
    compiled = torch.compile(layer, backend="aot_eager")
    for batch in (5, 1):  # awkward sizes: an odd batch, then one sample (a recompile)
        x = torch.rand(batch, 3, dtype=torch.float64) * 3
        with tracking.Tracker() as tracker:
            got = _values_and_grads(compiled, x)
        # a forward and a backward, one simulation per sample each (budgets stay right)
        assert (tracker.calls, tracker.evaluations) == (2, 2 * batch)
        _assert_same(got, _values_and_grads(layer, x))
        # and both are the circuit's values (qiskit's Statevector, independent of the layer)
        theta = np.concatenate(
            [x.numpy(), np.broadcast_to(layer.weight.detach().numpy(), (batch, spec.n_weights))],
            axis=1,
        )
        np.testing.assert_allclose(got[0].numpy(), statevector_expectations(spec, theta), atol=TOL)


@pytest.mark.slow
def test_torch_backend_is_one_graph_after_the_finiteness_check():
    layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="torch").double()
    explanation = torch._dynamo.explain(layer)(torch.rand(3, 2, dtype=torch.float64))
    # only the (data-dependent) NaN check runs eagerly; the simulation is in the graph
    assert explanation.graph_break_count == 1
    assert explanation.graph_count == 2
    assert "_check_finite_eagerly" in str(explanation.break_reasons[0].reason)


def test_a_compiled_nan_input_is_still_refused():
    layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="torch").double()
    compiled = torch.compile(layer, backend="aot_eager")
    with pytest.raises(hq.exceptions.InputError, match="NaN or inf"):
        compiled(torch.tensor([[0.1, float("nan")]], dtype=torch.float64))


def test_aer_layer_in_a_compiled_model_falls_back_to_eager():
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 2),
        hq.QuantumLayer(hq.circuits.variational(2, 1), backend="aer"),
        torch.nn.Linear(2, 1),
    ).double()
    x = torch.rand(4, 3, dtype=torch.float64)
    reasons = torch._dynamo.explain(model)(x).break_reasons
    assert any("_apply" in str(r.reason) for r in reasons)  # the Aer call is not traced
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager")
    _assert_same(_values_and_grads(compiled, x), _values_and_grads(model, x))


@pytest.mark.slow
def test_inductor_matches_eager():
    torch.manual_seed(3)
    layer = hq.QuantumLayer(hq.circuits.variational(3, 2), backend="torch").double()
    x = torch.rand(6, 3, dtype=torch.float64)
    with pytest.warns(UserWarning, match="complex operators"):  # inductor has no complex codegen
        got = _values_and_grads(torch.compile(layer), x)
    _assert_same(got, _values_and_grads(layer, x))
