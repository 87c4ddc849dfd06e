"""Edge cases of the per-copy shift rule through ZNE, each against an independent reference.

References: central differences of the exact mitigated values (the forward pass only: no
shifted rows), autograd through the noisy torch engine (``backend="torch"`` on
``fake_manila``), written-out binding counts, and the experiment seeds a call hands Aer.

``SPEC_CUT`` has angle expressions (``2 x0``, ``x1 - x0``, ``x2 + x1``, ``2 w - x2``) and a last
``rz`` that optimization level 2 removes before the Z measurement (``RemoveDiagonalGates
BeforeMeasure``) but keeps before the X one: rows shifting ``w`` have no gate, so no binding,
in the ``ZZ`` PUBs, and with only ``w`` differentiated those PUBs get no binding at all.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2
from qiskit.quantum_info import SparsePauliOp

import hybridqml as hq
from hybridqml.execution import _tracking as tracking
from hybridqml.execution._isa import BINDING_SEED_STRIDE
from hybridqml.mitigation import Mitigation

DEVICE = {"backend": "torch", "backend_options": {"device": "fake_manila"}}
X0, X1, X2, W = (Parameter(n) for n in ("x0", "x1", "x2", "w"))


def _cut_spec():
    qc = QuantumCircuit(2)
    qc.ry(2 * X0, 0)
    qc.ry(X1 - X0, 1)
    qc.rx(X2 + X1, 0)
    qc.cx(0, 1)
    qc.rz(2 * W - X2, 1)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XI")]
    return hq.circuits.ParameterizedCircuit(qc, (X0, X1, X2), (W,), observables)


SPEC_CUT = _cut_spec()
W_CUT = torch.tensor([0.7], dtype=torch.float64)
X_CUT = torch.tensor([[0.3, -0.8, 0.5], [1.1, 0.2, -1.3], [-0.4, 2.0, 0.9]], dtype=torch.float64)
COTANGENT = torch.tensor([[1.0, -0.6], [0.3, 2.0], [-1.4, 0.5]], dtype=torch.float64)


def _cut_layer(**options):
    options.setdefault("backend", "fake_manila")
    return hq.QuantumLayer(
        SPEC_CUT, mitigation="readout+zne", init=W_CUT.clone(), optimization_level=2, **options
    )


def _loss(layer, x):
    """Outputs weighted per sample and output: a mis-assigned row changes it."""
    return (layer(x) * COTANGENT[: x.shape[0]]).sum()


def _central(layer, x, eps=1e-5):
    """Central differences of :func:`_loss` in every input entry and weight (forward only)."""
    w0 = layer.weight.detach().clone()
    gx, gw = np.zeros(tuple(x.shape)), np.zeros(w0.shape[0])
    with torch.no_grad():
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                e = torch.zeros_like(x)
                e[i, j] = eps
                gx[i, j] = ((_loss(layer, x + e) - _loss(layer, x - e)) / (2 * eps)).item()
        for j in range(w0.shape[0]):
            values = []
            for sign in (1, -1):
                layer.weight.copy_(w0)
                layer.weight[j] += sign * eps
                values.append(_loss(layer, x).item())
            gw[j] = (values[0] - values[1]) / (2 * eps)
        layer.weight.copy_(w0)
    return gx, gw


def test_the_premise_a_pub_without_the_weight():
    forms = _cut_layer().engine.executor.mitigation.forms
    # occurrences: x0 (2), x1 (2), x2 (2), w; the ZZ PUBs (even) lost the last rz
    copies = [form.copies.tolist() for form in forms]
    assert [c[-1] for c in copies] == [0, 1, 0, 3, 0, 5]
    assert all(min(c[:-1]) > 0 for c in copies)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("wrt", ["inputs", "weights", "both"])
def test_expressions_and_a_removed_rotation_against_central_differences(batch, wrt):
    layer = _cut_layer()
    assert layer.engine.mitigation["shift_rule_exact"] is True
    x = X_CUT[:batch].clone().requires_grad_(wrt != "weights")
    layer.weight.requires_grad_(wrt != "inputs")
    _loss(layer, x).backward()
    cx, cw = _central(layer, x.detach())
    if wrt != "weights":
        np.testing.assert_allclose(x.grad.numpy(), cx, rtol=0, atol=1e-8)
    else:
        assert x.grad is None
    if wrt != "inputs":
        np.testing.assert_allclose(layer.weight.grad.numpy(), cw, rtol=0, atol=1e-8)
        assert np.abs(cw).max() > 0.1  # the removed copy's PUBs must not zero it all
    else:
        assert layer.weight.grad is None


def test_a_pub_with_no_binding_is_counted_and_dry_run_alike():
    """Only ``w`` differentiated: per row 0 bindings in each ZZ PUB, 1 + 3 + 5 in the XI ones."""
    layer = _cut_layer(shots=100, seed=2)
    x = X_CUT.clone()
    with hq.Tracker() as tracker:
        _loss(layer, x).backward()
    backward = tracker.by_kind["parameter-shift"]
    assert backward["evaluations"] == 3 * 2
    assert backward["executed_shots"] == 3 * 2 * (1 + 3 + 5) * 100
    with hq.Tracker() as counted, tracking.dry_run():
        _loss(layer, x).backward()
    assert counted.by_kind["parameter-shift"] == backward


def _manila_sampler():
    from qiskit_aer import AerSimulator
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    return BackendSamplerV2(backend=AerSimulator.from_backend(FakeManilaV2()))


def test_the_primitive_path_agrees_within_4_standard_errors():
    """A non-distribution sampler (PUBs with no binding are not sent) with shots."""
    exact = _cut_layer(seed=3)
    _, reference = _central(exact, X_CUT[:2])
    layer = _cut_layer(backend=_manila_sampler(), shots=4000, seed=3)
    ex = layer.engine.executor
    assert not isinstance(ex.sampler, hq.execution._distribution.DistributionSampler)
    # the same transpiled circuits as the exact reference (the drawings: parameters differ)
    for ours, theirs in zip(ex.isa_circuits, exact.engine.executor.isa_circuits, strict=True):
        assert str(ours.draw()) == str(theirs.draw())
    grads = []
    for _ in range(8):
        layer.weight.grad = None
        _loss(layer, X_CUT[:2]).backward()
        grads.append(layer.weight.grad.numpy().copy())
    grads = np.array(grads)
    se = grads.std(axis=0, ddof=1) / np.sqrt(len(grads))
    assert np.all(se > 0)
    assert np.all(np.abs(grads.mean(axis=0) - reference) <= 4 * se), (grads, reference)


def _spy(sampler, calls):
    """Record each primitive call's seed and the bindings of its PUBs."""
    run = sampler.run

    def spied(pubs, *args, **kwargs):
        pubs = list(pubs)
        calls.append((sampler.options.seed_simulator, [int(p[1].size) for p in pubs]))
        return run(pubs, *args, **kwargs)

    sampler.run = spied


def test_a_split_primitive_pass_repeats_no_seed_and_is_reproducible():
    def jacobian():
        sampler, calls = _manila_sampler(), []
        _spy(sampler, calls)
        layer = hq.QuantumLayer(
            hq.circuits.variational(2, 1),
            backend=sampler,
            mitigation="readout+zne",
            init=torch.tensor([0.4, -1.2]),
            shots=200,
            seed=5,
        )
        ex = layer.engine.executor
        ex.binding_bytes, ex.max_memory_bytes = 1000, 1000 * 12
        theta = np.array([[0.3, -0.8, 0.4, -1.2], [1.1, 0.2, 0.4, -1.2]])
        del calls[:]
        return layer.engine.jacobian(theta), calls

    jac, calls = jacobian()
    assert len(calls) > 2
    # Aer seeds experiment e of a call seed_simulator + STRIDE * e: no experiment of the
    # pass may share a seed with another (the calls would draw correlated shots)
    seeds = [seed + BINDING_SEED_STRIDE * e for seed, sizes in calls for e in range(sum(sizes))]
    assert len(set(seeds)) == len(seeds)
    again, _ = jacobian()
    np.testing.assert_array_equal(again, jac)


def test_probability_outputs_with_partial_folds_equal_backprop():
    spec = hq.circuits.variational(2, 2)
    w = torch.tensor(np.random.default_rng(3).uniform(-2, 2, spec.n_weights))
    m = Mitigation(readout=True, zne=True, scale_factors=(1, 1.5, 2.2))
    grads = []
    for options in ({"backend": "fake_manila"}, DEVICE):
        layer = hq.SamplerLayer(spec, mitigation=m, init=w.clone(), **options)
        x = X_CUT[:2, :2].clone().requires_grad_()
        out = layer(x)
        grads.append(torch.autograd.grad((out * out.detach().roll(1, 1)).sum(), [x, layer.weight]))
    assert hq.SamplerLayer(spec, backend="fake_manila", mitigation=m).engine.mitigation[
        "shift_rule_exact"
    ]
    for shifted, backprop in zip(*grads, strict=True):
        torch.testing.assert_close(shifted, backprop, rtol=0, atol=1e-12)


def test_an_unpickled_layer_still_shifts_every_copy():
    spec = hq.circuits.variational(3, 2)
    w = torch.tensor(np.random.default_rng(25).uniform(-2, 2, spec.n_weights))
    x = torch.tensor(np.random.default_rng(26).uniform(-2, 2, (1, 3)))
    layer = hq.QuantumLayer(spec, backend="fake_manila", mitigation="zne", init=w.clone())
    copy = pickle.loads(pickle.dumps(layer))
    assert copy.engine.executor.mitigation.forms is not None
    copy(x).sum().backward()
    reference = hq.QuantumLayer(spec, mitigation="zne", init=w.clone(), **DEVICE)
    reference(x).sum().backward()
    torch.testing.assert_close(copy.weight.grad, reference.weight.grad, rtol=0, atol=1e-12)


def test_finite_differences_through_zne_equal_backprop():
    """finite-diff passes no shifts: its rows run as plain angles (one binding per PUB)."""
    spec = hq.circuits.variational(2, 1)
    w = torch.tensor([0.4, -1.2], dtype=torch.float64)
    x = X_CUT[:2, :2].clone().requires_grad_()
    layer = hq.QuantumLayer(
        spec, backend="fake_manila", mitigation="zne", init=w.clone(), gradient="finite-diff"
    )
    with hq.Tracker() as tracker:
        layer(x).sum().backward()
    backward = tracker.by_kind["finite-diff"]
    assert backward["evaluations"] == 2 * 4 * 2  # samples x parameters x (+h, -h)
    assert backward["executed_shots"] == 0 and backward["circuits"] == 3
    reference = hq.QuantumLayer(spec, mitigation="zne", init=w.clone(), **DEVICE)
    xr = X_CUT[:2, :2].clone().requires_grad_()
    reference(xr).sum().backward()
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad, rtol=0, atol=1e-7)
    torch.testing.assert_close(x.grad, xr.grad, rtol=0, atol=1e-7)


def test_spsa_through_zne_is_a_central_difference_of_one_weight():
    """With one parameter SPSA's estimate is ``(f(w + c) - f(w - c)) / (2 c)``."""
    layer = _cut_layer(gradient="spsa")
    x = X_CUT.clone()
    _loss(layer, x).backward()
    _, cw = _central(_cut_layer(), x)
    c = 0.01
    assert np.abs(cw).max() > 0.1
    np.testing.assert_allclose(layer.weight.grad.numpy(), cw, rtol=0, atol=c**2)  # O(c**2)


def test_equal_rows_with_other_shifts_are_other_jobs(monkeypatch):
    """A recovered job is matched by fingerprint: it must cover what the rows' shifts send."""
    from hybridqml.gradients import ShiftedRows
    from hybridqml.hardware._retry import fingerprint

    sampler, sent = _manila_sampler(), []
    _spy(sampler, sent)
    layer = _cut_layer(backend=sampler, shots=10)  # unseeded: every call's seed is None
    ex, prints = layer.engine.executor, []
    run = ex.jobs.run

    def spied(call):
        prints.append(fingerprint(call.circuits, call.angles, call.shots, call.seed))
        return run(call)

    monkeypatch.setattr(ex.jobs, "run", spied)
    angles = np.random.default_rng(7).uniform(-2, 2, (1, ex.shiftable.n_angles))
    s = np.pi / 2
    ex.run(angles, shifts=ShiftedRows(np.array([0]), np.array([s])))
    ex.run(angles, shifts=ShiftedRows(np.array([ex.shiftable.n_angles - 1]), np.array([s])))
    assert [seed for seed, _ in sent] == [None, None]
    assert sent[0][1] != sent[1][1]  # the premise: the two calls send other bindings
    assert prints[0] != prints[1]


def test_a_split_pass_keeps_every_call_within_the_memory_budget():
    """Rows shifting ``w`` run 0 + 1 + 0 + 3 + 0 + 5 bindings over 6 PUBs: 1.5 rows' worth."""
    sampler, calls = _manila_sampler(), []
    _spy(sampler, calls)
    layer = _cut_layer(backend=sampler, shots=10, seed=1)
    ex = layer.engine.executor
    ex.binding_bytes, ex.max_memory_bytes = 1000, 3000
    loss = _loss(layer, X_CUT)
    del calls[:]
    loss.backward()  # weights only
    assert sum(sum(sizes) for _, sizes in calls) == 3 * 2 * 9  # all of it was sent
    for _, sizes in calls:  # the bytes of a row are those of one binding of every PUB
        assert sum(sizes) / len(sizes) * ex.binding_bytes <= ex.max_memory_bytes, calls


# dynamo reads `.grad` of non-leaf outputs after a graph break (as in tests/nn/test_compile.py)
@pytest.mark.slow  # ~9 s: compiling
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
def test_a_compiled_model_shifts_every_copy():
    """``torch.compile`` runs the layer's numpy Function eagerly: the gradients are exact."""
    torch._dynamo.reset()
    spec = hq.circuits.variational(3, 2)
    w = torch.tensor(np.random.default_rng(25).uniform(-2, 2, spec.n_weights))
    x = torch.tensor(np.random.default_rng(26).uniform(-2, 2, (2, 3)))
    grads = []
    for options, compile_it in (({"backend": "fake_manila"}, True), (DEVICE, False)):
        torch.manual_seed(0)
        layer = hq.QuantumLayer(spec, mitigation="zne", init=w.clone(), **options)
        model = torch.nn.Sequential(torch.nn.Linear(3, 3, dtype=torch.float64), layer)
        run = torch.compile(model, backend="aot_eager") if compile_it else model
        xs = x.clone().requires_grad_()
        run(xs).pow(2).sum().backward()
        grads.append([xs.grad, layer.weight.grad, model[0].weight.grad])
    torch._dynamo.reset()
    for compiled, backprop in zip(*grads, strict=True):
        torch.testing.assert_close(compiled, backprop, rtol=0, atol=1e-12)
