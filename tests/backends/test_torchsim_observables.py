"""Observables on the torch engine (issue 24): values against qiskit, tables that stay small."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from qiskit.quantum_info import SparsePauliOp, Statevector, random_statevector

import hybridqml as hq
from hybridqml import circuits
from hybridqml.backends.torchsim._observables import PauliTable
from hybridqml.backends.torchsim._simulator import TorchSimulator
from hybridqml.exceptions import BackendError


def _random_observables(n, count, rng):
    out = []
    for _ in range(count):
        labels = ["".join(rng.choice(list("IXYZ"), size=n)) for _ in range(3)]
        out.append(SparsePauliOp(labels, coeffs=rng.normal(size=3)).simplify())
    out.append(SparsePauliOp("Z" * n))
    out.append(SparsePauliOp("I" * n, coeffs=[0.5]))
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 7])
@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_values_gradients_and_weighted_apply_match_dense_qiskit_operators(n, dtype):
    rng = np.random.default_rng(n)
    observables = _random_observables(n, 4, rng)
    table = PauliTable(observables, n)
    states = [random_statevector(2**n, seed=s) for s in range(3)]
    psi = torch.tensor(np.array([s.data for s in states]), dtype=dtype, requires_grad=True)
    values = table.expectations(psi)
    expected = [[s.expectation_value(o).real for o in observables] for s in states]
    tol = 1e-12 if dtype == torch.complex128 else 2e-5
    np.testing.assert_allclose(values.detach().numpy(), expected, atol=tol)
    # d(sum g_o <O_o>)/d conj(psi) = sum_o g_o O_o psi; torch's gradient is twice that
    g = rng.normal(size=(3, len(observables)))
    (values * torch.tensor(g, dtype=values.dtype)).sum().backward()
    dense = [o.to_matrix() for o in observables]
    applied = np.array(
        [
            sum(g[b, o] * (dense[o] @ s.data) for o in range(len(dense)))
            for b, s in enumerate(states)
        ]
    )
    np.testing.assert_allclose(psi.grad.numpy(), 2 * applied, atol=10 * tol)
    out = torch.empty_like(psi.detach())
    result = table.weighted_apply(psi.detach(), torch.tensor(g), out=out)
    assert result is out
    np.testing.assert_allclose(out.numpy(), applied, atol=10 * tol)


def test_no_table_grows_with_the_register_times_the_outputs():
    n = 18
    observables = [*circuits.z_observables(n), SparsePauliOp("X" * n), SparsePauliOp("YZ" * 9)]
    table = PauliTable(observables, n)
    tensors = table._tensors(torch.complex128, torch.device("cpu"))
    held = sum(t.numel() * t.element_size() for group in tensors for t in group[1:])
    assert held == PauliTable.estimate_bytes(observables, n)
    state = 2**n * 16
    assert held < state / 10  # the old (2^n, O) complex tables were 20x the state
    # and the values are still right on a product state: RY(a_q) on each qubit
    angles = np.linspace(0.1, 2.9, n)
    single = [np.array([np.cos(a / 2), np.sin(a / 2)]) for a in angles]
    psi = single[0]
    for q in range(1, n):
        psi = np.kron(single[q], psi)
    values = table.expectations(torch.tensor(psi[None], dtype=torch.complex128))[0].numpy()
    np.testing.assert_allclose(values[:n], np.cos(angles), atol=1e-12)
    np.testing.assert_allclose(values[n], np.prod(np.sin(angles)), atol=1e-12)
    # <YZYZ...> of a real state: every Y contributes an odd imaginary part, so 0
    np.testing.assert_allclose(values[n + 1], 0.0, atol=1e-12)


def test_a_torch_layer_with_mixed_observables_matches_statevector():
    spec = circuits.variational(5, layers=2).with_outputs(
        [SparsePauliOp(["XXIYZ", "ZIIIZ"], coeffs=[0.7, -0.2]), SparsePauliOp("IYIII")]
    )
    layer = hq.QuantumLayer(spec, backend="torch", gradient="adjoint")
    x = torch.rand(3, 5, dtype=torch.float64)
    out = layer(x).detach().numpy()
    w = layer.weight.detach().numpy()
    for b in range(3):
        values = dict(zip(spec.input_params, x[b].tolist(), strict=True))
        values.update(zip(spec.weight_params, w.tolist(), strict=True))
        sv = Statevector(spec.circuit.assign_parameters(values))
        np.testing.assert_allclose(
            out[b], [sv.expectation_value(o).real for o in spec.observables], atol=1e-12
        )


def test_a_register_that_cannot_fit_is_refused_with_the_numbers_before_allocating():
    spec = circuits.variational(33, 1)
    with pytest.raises(
        BackendError, match=r"33 qubits.*274,877,906,944 bytes \(256\.0 GiB\).*limit is"
    ):
        TorchSimulator(spec.circuit, spec.parameters, spec.observables, max_memory_bytes=1 << 30)


_SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (12 << 30, 12 << 30))
import torch, hybridqml as hq
n = int(sys.argv[1])
torch.manual_seed(0)
layer = hq.QuantumLayer(hq.circuits.ry(n), backend="torch")
x = torch.rand(2, n, requires_grad=True)
out = layer(x)
out.sum().backward()
# ry(n) is H then RY(x_q) per qubit: <Z_q> = -sin(x_q), d/dx = -cos(x_q)
ok = torch.allclose(out, -torch.sin(x), atol=1e-5)
ok = ok and torch.allclose(x.grad, -torch.cos(x), atol=1e-5)
print("OK" if ok else f"WRONG {out} {x.grad}")
"""


def _run_limited(n):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRIPT), str(n)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "OK", proc.stdout


@pytest.mark.slow
def test_a_24_qubit_layer_runs_forward_and_backward_under_a_12_gib_address_space():
    _run_limited(24)
