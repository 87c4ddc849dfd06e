"""Fused torch-simulator kernels and plans: against dense references and exact Aer at scale.

The block kernel has three code paths (lowest qubits, highest qubits, in between); with the
default fusion widths, circuits under 7 qubits only reach the first. The layout tests shrink the
widths so small circuits exercise every path, and one 14-qubit circuit runs them at the default
widths; 18 and 20 qubits are in the slow set.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import torch
from _circuits import rich_spec, statevector_expectations

import hybridqml as hq
from hybridqml import circuits
from hybridqml.backends.torchsim import AdjointExpectation, TorchSimulator
from hybridqml.backends.torchsim import _fusion as fusion
from hybridqml.backends.torchsim._kernels import (
    BlockFunction,
    PermuteFunction,
    apply_block,
    block_contraction,
    kron,
    permute,
)
from hybridqml.nn._engine import CircuitEngine

C128 = torch.complex128


def _random_state(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.complex(
        torch.randn(shape, generator=g, dtype=torch.float64),
        torch.randn(shape, generator=g, dtype=torch.float64),
    )


def _dense(m: torch.Tensor, n: int, lo: int, k: int) -> torch.Tensor:
    """I (x) M (x) I on n qubits (per sample), built with numpy's kron: an independent reference."""
    high, low = np.eye(1 << (n - lo - k)), np.eye(1 << lo)
    mats = m.numpy() if m.dim() == 3 else m.numpy()[None]
    return torch.from_numpy(np.stack([np.kron(np.kron(high, a), low) for a in mats]))


@pytest.mark.parametrize("lo, k", [(0, 2), (0, 5), (3, 2), (1, 3), (2, 1), (4, 1), (0, 1)])
@pytest.mark.parametrize("batched", [True, False])
def test_block_kernel_matches_the_dense_matrix_on_every_path(lo, k, batched):
    n, b = 5, 3
    psi = _random_state((b, 1 << n))
    m = _random_state((b, 1 << k, 1 << k) if batched else (1 << k, 1 << k), seed=1)
    want = torch.einsum("bij,bj->bi", _dense(m, n, lo, k).expand(b, -1, -1), psi)
    torch.testing.assert_close(apply_block(psi, n, lo, k, m), want, rtol=0, atol=1e-12)
    out = torch.empty_like(psi)
    assert apply_block(psi, n, lo, k, m, out=out) is out
    torch.testing.assert_close(out, want, rtol=0, atol=1e-12)
    pair = torch.stack([psi, 2 * psi])  # leading state axis (the adjoint's (psi, lambda) pair)
    got = apply_block(pair, n, lo, k, m)
    torch.testing.assert_close(got, torch.stack([want, 2 * want]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("lo, k", [(0, 2), (3, 2), (1, 3)])
def test_block_contraction_is_the_partial_trace_of_the_outer_product(lo, k):
    n, b = 5, 2
    a, c = _random_state((b, 1 << n), 2), _random_state((b, 1 << n), 3)
    shape = (b, 1 << (n - lo - k), 1 << k, 1 << lo)
    want = torch.einsum("bhil,bhjl->bij", a.reshape(shape).conj(), c.reshape(shape))
    got = block_contraction(a, c, n, lo, k)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    scratch = torch.empty_like(a)
    got = block_contraction(a, c, n, lo, k, scratch=scratch)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("lo, k", [(0, 2), (2, 1), (1, 2)])
def test_block_and_permute_functions_pass_gradcheck(lo, k):
    n = 4
    psi = _random_state((2, 1 << n)).requires_grad_()
    m = _random_state((2, 1 << k, 1 << k), 5).requires_grad_()
    assert torch.autograd.gradcheck(lambda s, a: BlockFunction.apply(s, a, n, lo, k), (psi, m))
    perm = torch.randperm(1 << n, generator=torch.Generator().manual_seed(0))
    phase = torch.exp(1j * torch.rand(1 << n, dtype=torch.float64))
    inverse = torch.argsort(perm)
    inverse_phase = phase.conj()[inverse]
    torch.testing.assert_close(
        permute(permute(psi.detach(), perm, phase), inverse, inverse_phase), psi.detach()
    )
    assert torch.autograd.gradcheck(
        lambda s: PermuteFunction.apply(s, perm, phase, inverse, inverse_phase), (psi,)
    )


def test_kron_is_little_endian_and_broadcasts():
    a, b = _random_state((3, 2, 2)), _random_state((2, 2), 1)
    got = kron(a, b)
    want = torch.stack([torch.kron(x, b) for x in a])
    torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("n", range(1, 25))
def test_chunks_partition_the_register(n):
    ranges = fusion.chunks(n)
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a < b for a, b in ranges)
    assert all(r[1] == s[0] for r, s in itertools.pairwise(ranges))
    widths = [b - a for a, b in ranges]
    assert max(widths) <= fusion.EDGE_QUBITS
    assert all(w <= fusion.MIDDLE_QUBITS for w in widths[1:-1])


def test_a_rotation_layer_is_one_pass_per_chunk():
    spec = circuits.variational(16, 2)
    sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
    kinds = [(s.kind, s.lo, s.k) for s in sim.steps]
    layer = [("block", 0, 4), ("block", 4, 4), ("block", 8, 4), ("block", 12, 4)]
    # encoding + first rotations (product state), ring, second rotations, ring
    assert kinds == [*layer, ("monomial", 0, 0), *layer, ("monomial", 0, 0)]


@functools.cache
def _references(name: str):
    """A spec, parameter rows, Statevector outputs and Aer's parameter-shift Jacobian."""
    spec = circuits.variational(6, 2) if name == "variational-6" else rich_spec()
    theta = np.random.default_rng(7).uniform(-np.pi, np.pi, (3, len(spec.parameters)))
    want = statevector_expectations(spec, theta)
    return spec, theta, want, CircuitEngine(spec, backend="aer").jacobian(theta)


LAYOUTS = [(1, 1), (2, 1), (2, 3), (2, 2)]  # (edge, middle) widths forcing every kernel path


@pytest.mark.parametrize("edge, middle", LAYOUTS)
@pytest.mark.parametrize("name", ["variational-6", "rich"])
def test_every_fusion_layout_agrees_with_statevector_and_aer_gradients(
    monkeypatch, edge, middle, name
):
    monkeypatch.setattr(fusion, "EDGE_QUBITS", edge)
    monkeypatch.setattr(fusion, "MIDDLE_QUBITS", middle)
    spec, theta, want, ref = _references(name)
    for gradient in ("backprop", "adjoint"):
        engine = CircuitEngine(spec, backend="torch", gradient=gradient)
        sim = engine.executor.simulator
        assert any(
            s.kind == "block" and s.lo > 0 and s.lo + s.k < sim.n_qubits for s in sim.steps
        ) or (spec.circuit.num_qubits < 4)
        np.testing.assert_allclose(engine.forward(theta), want, atol=1e-10, rtol=0)
        np.testing.assert_allclose(
            engine.jacobian(theta), ref, atol=1e-10, rtol=0, err_msg=gradient
        )


def test_no_grad_sweeps_use_two_buffers_and_never_write_their_input(monkeypatch):
    spec = circuits.variational(5, 6)
    sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
    theta = torch.rand(4, len(spec.parameters), dtype=torch.float64)
    with torch.enable_grad():
        want = sim.state(theta.clone().requires_grad_()).detach()  # autograd path
    allocated = []
    real = torch.empty_like

    def counting(t, *args, **kwargs):
        allocated.append(t.shape)
        return real(t, *args, **kwargs)

    monkeypatch.setattr(fusion.torch, "empty_like", counting)
    mats = sim.op_matrices(theta)
    psi = sim._product_state(theta, mats)
    before = psi.clone()
    got = fusion.run_steps(sim, sim._steps, psi, lambda s: fusion.step_matrix(s, mats), track=False)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(psi, before, rtol=0, atol=0)  # the input state is untouched
    assert len(sim.steps) >= 12 and len(allocated) <= 2  # depth 6: still two buffers


def _layer_check(n: int, batch: int, seed: int) -> None:
    spec = circuits.variational(n, 2)
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-np.pi, np.pi, (batch, len(spec.parameters)))
    aer = CircuitEngine(spec, backend="aer")
    want = aer.forward(theta)
    g = rng.normal(size=(batch, n))
    ref = np.einsum("no,nop->np", g, aer.jacobian(theta))
    for gradient in ("backprop", "adjoint"):
        layer = hq.QuantumLayer(spec, backend="torch", gradient=gradient).double()
        x = torch.from_numpy(theta[:, :n]).requires_grad_()
        w = torch.from_numpy(theta[:, n:]).requires_grad_()
        out = layer(x, weight=w)
        np.testing.assert_allclose(out.detach().numpy(), want, atol=1e-10, rtol=0)
        out.backward(torch.from_numpy(g))
        got = torch.cat([x.grad, w.grad], dim=1).numpy()
        np.testing.assert_allclose(got, ref, atol=1e-10, rtol=0, err_msg=gradient)


def test_14_qubits_agree_with_aer_outputs_and_gradients():
    _layer_check(14, 2, 14)


@pytest.mark.slow
@pytest.mark.parametrize("n", [18, 20])
def test_large_registers_agree_with_aer_outputs_and_gradients(n):
    _layer_check(n, 1, n)


def test_adjoint_memory_estimate_does_not_grow_with_depth():
    shallow, deep = circuits.variational(10, 2), circuits.variational(10, 12)
    sims = [TorchSimulator(s.circuit, s.parameters, s.observables) for s in (shallow, deep)]
    adjoint = [s.estimate_bytes(8, C128) for s in sims]
    backprop = [s.estimate_bytes(8, C128, backprop=True) for s in sims]
    assert adjoint[0] == adjoint[1] and backprop[1] > backprop[0] > adjoint[0]
    x = torch.rand(8, 10, dtype=torch.float64, requires_grad=True)
    w = torch.rand(deep.n_weights, dtype=torch.float64, requires_grad=True)
    AdjointExpectation.apply(x, w, sims[1]).sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("gradient", ["backprop", "adjoint"])
def test_fused_kernels_on_cuda_match_the_cpu(monkeypatch, gradient):
    monkeypatch.setattr(fusion, "EDGE_QUBITS", 2)
    monkeypatch.setattr(fusion, "MIDDLE_QUBITS", 2)
    spec = circuits.variational(6, 2)
    layer = hq.QuantumLayer(spec, backend="torch", gradient=gradient).double()
    x = torch.rand(3, 6, dtype=torch.float64)
    outs = []
    for device in ("cpu", "cuda"):
        layer.to(device)
        layer.zero_grad()
        xi = x.to(device).requires_grad_()
        y = layer(xi)
        y.sum().backward()
        assert y.device.type == device
        outs.append([t.detach().cpu() for t in (y, xi.grad, layer.weight.grad)])
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
