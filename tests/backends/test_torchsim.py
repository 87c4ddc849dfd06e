"""The torch-native exact backend: agreement with Aer, gradients, dtypes, errors, integration."""

import numpy as np
import pytest
import torch
from _circuits import mixed_spec, rich_spec
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, Parameter, ParameterVector
from qiskit.circuit.library import (
    PauliEvolutionGate,
    QFTGate,
    U2Gate,
    UnitaryGate,
    XXPlusYYGate,
)
from qiskit.quantum_info import Operator, SparsePauliOp, random_unitary
from torch import nn

import hybridqml as hq
from hybridqml import circuits
from hybridqml.backends.torchsim import AdjointExpectation, TorchSimulator
from hybridqml.backends.torchsim._compiler import compile_circuit
from hybridqml.circuits import ParameterizedCircuit
from hybridqml.exceptions import BackendError, CircuitError, ConfigurationError, InputError
from hybridqml.nn._engine import CircuitEngine


def gate_zoo():
    """Every rotation family, functions of parameters, fixed and custom gates."""
    x0, x1, w0, w1, w2 = (Parameter(n) for n in ("x0", "x1", "w0", "w1", "w2"))
    inner = QuantumCircuit(2, name="mygate")
    inner.h(0)
    inner.crz(x1, 0, 1)
    inner.ry(2 * x1, 1)
    qc = QuantumCircuit(4)
    qc.h(range(4))
    qc.rxx(x0, 0, 1)
    qc.ryy(w0 - x1, 1, 2)
    qc.rzx(w1, 2, 3)
    qc.append(inner.to_gate(), [3, 1])
    qc.cu(w2, x0, 0.2, 0.1, 0, 3)
    qc.r(w1, x1, 2)
    qc.append(U2Gate(w0, x0), [1])
    qc.p(w2 * w2, 3)
    qc.crz(w0, 3, 0)
    qc.rx(0.5 * x0 + 0.25 * w1 * x1, 0)
    qc.append(UnitaryGate(random_unitary(4, seed=3)), [2, 0])
    qc.ccx(0, 1, 2)
    qc.swap(1, 3)
    qc.s(0)
    qc.t(1)
    qc.sx(2)
    qc.cz(0, 3)
    qc.mcp(w1, [0, 1], 2)
    qc.ry(w2, 1)
    obs = [
        SparsePauliOp(["ZIII", "IIXY"], [0.5, -1.5]),
        "YYII",
        SparsePauliOp(["IIII", "XZIZ"], [0.25, 1.0]),
        "IZIZ",
    ]
    return ParameterizedCircuit(qc, [x0, x1], [w0, w1, w2], observables=obs)


def library_gates():
    """Gates simulated through their Qiskit definitions, a 3-qubit unitary, QFT, MCX."""
    x, w = ParameterVector("x", 3), ParameterVector("w", 3)
    qc = QuantumCircuit(4)
    qc.h(range(4))
    evolution = SparsePauliOp(["XZ", "YY"], [0.5, 0.3])
    qc.append(PauliEvolutionGate(evolution, time=x[0]), [0, 2])
    qc.append(XXPlusYYGate(w[0], x[1]), [1, 3])
    qc.append(UnitaryGate(random_unitary(8, seed=1)), [3, 0, 2])
    qc.mcx([0, 1, 2], 3)
    qc.append(QFTGate(4), range(4))
    qc.rx(w[1] + x[2], 1)
    qc.ry(w[2] * x[0] + 0.1, 2)
    obs = ["XYZI", SparsePauliOp(["ZZZZ", "IIXX"], [0.3, 0.7])]
    return ParameterizedCircuit(qc, list(x), list(w), observables=obs)


def functions():
    """Angles that are functions of parameters: sin, exp, cos^2, log, arctan, sqrt, tan, abs."""
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x.sin() * w, 0)
    qc.rx(w.exp() - x.cos() ** 2, 1)
    qc.cx(0, 1)
    qc.rz((x * x + 1).log() + w.arctan(), 1)
    qc.ry((x**2 + w**2) ** 0.5 / 3, 0)
    qc.crx(x.tan() * 2 - w / 3, 1, 0)
    qc.ry(x.abs() * w, 1)
    return ParameterizedCircuit(qc, [x], [w], observables=["ZX", "YI", "IZ"])


SPECS = {
    "ring": lambda: circuits.variational(4, 2, "ring"),
    "linear": lambda: circuits.variational(3, 2, "linear"),
    "full": lambda: circuits.variational(4, 2, "full"),
    "textbook": lambda: circuits.ry(1),
    "textbook-3": lambda: circuits.ry(3),
    "rich": rich_spec,
    "zoo": gate_zoo,
    "mixed": mixed_spec,
    "library": library_gates,
    "functions": functions,
}


def theta_for(spec, batch=4, seed=0):
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, size=(batch, len(spec.parameters)))


def layer_with(spec, theta_w, **kwargs):
    return hq.QuantumLayer(
        spec, backend="torch", init=torch.from_numpy(np.ascontiguousarray(theta_w)), **kwargs
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_forward_agrees_with_aer_exact(name):
    spec = SPECS[name]()
    theta = theta_for(spec) * (0.4 if name == "functions" else 1)  # keep tan away from poles
    aer = CircuitEngine(spec, backend="aer").forward(theta)
    layer = layer_with(spec, theta[0, spec.n_inputs :])
    x = torch.from_numpy(theta[:, : spec.n_inputs])
    w = torch.from_numpy(theta[:, spec.n_inputs :])
    out = layer(x, weight=w)  # per-sample weights: every row is a different binding
    np.testing.assert_allclose(out.detach().numpy(), aer, atol=1e-10, rtol=0)
    engine = CircuitEngine(spec, backend="torch", gradient="parameter-shift")
    np.testing.assert_allclose(engine.forward(theta), aer, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", ["ring", "full", "rich", "zoo", "mixed", "library", "functions"])
def test_backprop_adjoint_and_shift_gradients_agree_with_aer(name):
    spec = SPECS[name]()
    theta = theta_for(spec, batch=3, seed=1) * (0.4 if name == "functions" else 1)
    ref = CircuitEngine(spec, backend="aer").jacobian(theta)  # parameter shift on Aer
    g = np.random.default_rng(2).normal(size=(3, spec.n_outputs))
    want = np.einsum("no,nop->np", g, ref)
    n_in = spec.n_inputs
    for gradient in ("backprop", "adjoint", "parameter-shift"):
        layer = layer_with(spec, theta[0, n_in:], gradient=gradient)
        x = torch.from_numpy(theta[:, :n_in]).requires_grad_()
        w = torch.from_numpy(theta[:, n_in:]).requires_grad_()
        layer(x, weight=w).backward(torch.from_numpy(g))
        got = torch.cat([x.grad, w.grad], dim=1).numpy()
        np.testing.assert_allclose(got, want, atol=1e-10, rtol=0, err_msg=gradient)
    jac = CircuitEngine(spec, backend="torch").jacobian(theta)
    np.testing.assert_allclose(jac, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("gradient", ["backprop", "adjoint"])
def test_gradcheck_float64(gradient):
    spec = rich_spec()
    engine = CircuitEngine(spec, backend="torch", gradient=gradient)
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    w = torch.rand(2, dtype=torch.float64, requires_grad=True)
    wb = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)

    def f(x, w):
        return hq.nn.expectations(x, w, engine)

    assert torch.autograd.gradcheck(f, (x, w), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(f, (x, wb), eps=1e-6, atol=1e-7)


def test_shared_weight_gradient_is_the_batch_sum():
    spec = circuits.variational(3, 2)
    theta = theta_for(spec, batch=5, seed=4)
    for gradient in ("backprop", "adjoint", "parameter-shift"):
        layer = layer_with(spec, theta[0, 3:], gradient=gradient)
        x = torch.from_numpy(theta[:, :3])
        layer(x).sum().backward()
        wb = layer.weight.detach().expand(5, -1).clone().requires_grad_()
        layer(x, weight=wb).sum().backward()
        torch.testing.assert_close(layer.weight.grad, wb.grad.sum(0), atol=1e-12, rtol=0)


def test_qubit_order_follows_qiskit():
    x = Parameter("x")
    qc = QuantumCircuit(2)
    qc.x(0)
    qc.ry(x, 1)
    spec = ParameterizedCircuit(qc, [x])
    layer = hq.QuantumLayer(spec, backend="torch")
    out = layer(torch.zeros(1, 1, dtype=torch.float64))
    assert out.tolist() == [[-1.0, 1.0]]  # <Z_0> = -1, <Z_1> = +1
    state = TorchSimulator(qc, [x], spec.observables).state(torch.zeros(1, 1))
    assert state.abs().argmax().item() == 1  # |q1 q0> = |01>: basis index 1


@pytest.mark.parametrize("gradient", ["backprop", "adjoint", "parameter-shift"])
def test_float32_path(gradient):
    spec = rich_spec()
    layer = hq.QuantumLayer(spec, backend="torch", gradient=gradient)
    x = torch.rand(6, 2, requires_grad=True)
    y = layer(x)
    assert y.dtype == torch.float32
    y.sum().backward()
    assert x.grad.dtype == torch.float32 and layer.weight.grad.dtype == torch.float32
    x64 = x.detach().double().requires_grad_()
    layer64 = layer_with(spec, layer.weight.detach().double().numpy(), gradient=gradient)
    y64 = layer64(x64)
    y64.sum().backward()
    torch.testing.assert_close(y.double(), y64, atol=1e-5, rtol=0)
    torch.testing.assert_close(x.grad.double(), x64.grad, atol=1e-5, rtol=0)
    if gradient != "parameter-shift":
        sim = layer.engine.native.simulator
        assert sim.state(torch.rand(2, 6)).dtype == torch.complex64


def test_needs_input_grad_is_honoured():
    spec = circuits.variational(3, 1)
    for gradient in ("backprop", "adjoint"):
        layer = hq.QuantumLayer(spec, backend="torch", gradient=gradient)
        x = torch.rand(4, 3)
        layer(x).sum().backward()
        assert x.grad is None and layer.weight.grad is not None
        layer.weight.requires_grad_(False)
        xg = torch.rand(4, 3, requires_grad=True)
        layer(xg).sum().backward()
        assert xg.grad is not None and layer.weight.grad.abs().sum() > 0


def test_adjoint_keeps_no_autograd_history_of_states():
    spec = circuits.variational(5, 3)
    sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
    x = torch.rand(8, 5, dtype=torch.float64, requires_grad=True)
    w = torch.rand(15, dtype=torch.float64, requires_grad=True)
    out = AdjointExpectation.apply(x, w, sim)
    assert out.grad_fn is not None and type(out.grad_fn).__name__ == "AdjointExpectationBackward"
    assert sim.estimate_bytes(8, torch.complex128) < sim.estimate_bytes(
        8, torch.complex128, backprop=True
    )


def test_parameter_shift_on_torch_is_one_batched_run_per_pass():
    spec = circuits.variational(3, 2)
    layer = hq.QuantumLayer(spec, backend="torch", gradient="parameter-shift")
    x = torch.rand(16, 3, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    executor = layer.engine.executor
    assert executor.calls == 2
    assert executor.evaluations == 16 + 16 * 2 * (3 + 6)


def test_torch_native_gradients_compile_nothing_else_and_never_recompile(monkeypatch):
    import hybridqml.backends.torchsim._simulator as simulator_module

    layer = hq.QuantumLayer(circuits.variational(3, 2), backend="torch")
    assert layer.engine._shiftable is None and layer.engine._executor is None

    def fail(*args, **kwargs):
        raise AssertionError("compiled again at run time")

    monkeypatch.setattr(simulator_module, "compile_circuit", fail)
    x = torch.rand(4, 3, requires_grad=True)
    for _ in range(2):
        layer(x).sum().backward()
    assert layer.engine._shiftable is None  # backprop never built the parameter-shift form


def test_compilation_fuses_and_uses_product_state():
    spec = circuits.variational(4, 2, "ring")
    program = compile_circuit(spec.circuit, spec.parameters)
    assert len(program.initial) == 4  # encoding + first weight layer, fused, from |0000>
    assert [op.kind for op in program.ops] == ["monomial"] + ["one"] * 4 + ["monomial"]


def test_state_dict_moves_between_torch_gradients():
    # pickling and torch.save of a torch-backend model: tests/test_layers.py
    model = nn.Sequential(
        nn.Linear(2, 3), hq.QuantumLayer(circuits.variational(3, 1), backend="torch")
    )
    expected = model(torch.rand(4, 2))
    other = hq.QuantumLayer(circuits.variational(3, 1), backend="torch", gradient="adjoint")
    other.load_state_dict(model[1].state_dict())
    torch.testing.assert_close(other(expected.detach()), model[1](expected.detach()))


def test_set_backend_switches_between_aer_and_torch():
    layer = hq.QuantumLayer(circuits.variational(3, 2)).double()
    assert layer.engine.gradient == "parameter-shift"
    x = torch.rand(5, 3, dtype=torch.float64)
    on_aer = layer(x)
    layer.set_backend("torch")
    assert layer.engine.gradient == "backprop" and "backend='torch'" in repr(layer)
    torch.testing.assert_close(layer(x), on_aer, atol=1e-10, rtol=0)
    layer.set_backend("aer", shots=100, seed=1)
    assert layer.engine.shots == 100
    layer.set_backend("torch", gradient="adjoint")
    assert layer.engine.gradient == "adjoint" and layer.engine.shots is None
    with pytest.raises(ConfigurationError, match="needs backend='torch'"):
        layer.set_backend("aer", gradient="adjoint")
    assert layer.engine.gradient == "adjoint"  # unchanged after the failed switch
    layer.set_backend("aer")  # the new backend's default gradient, not the old "adjoint"
    assert layer.engine.gradient == "parameter-shift"
    torch.testing.assert_close(layer(x), on_aer, atol=1e-10, rtol=0)


def test_shots_are_rejected_with_a_hint():
    with pytest.raises(ConfigurationError, match=r"exact.*use backend='aer' with shots"):
        hq.QuantumLayer(circuits.ry(1), backend="torch", shots=100)
    with pytest.raises(ConfigurationError, match=r"exact.*backend='aer'"):
        hq.QuantumLayer(circuits.ry(1), backend="torch", gradient="parameter-shift", shots=10)


def test_gradient_names_are_checked():
    with pytest.raises(ConfigurationError, match="unknown gradient 'magic' for backend='torch'"):
        hq.QuantumLayer(circuits.ry(1), backend="torch", gradient="magic")
    with pytest.raises(ConfigurationError, match="needs backend='torch'"):
        hq.QuantumLayer(circuits.ry(1), backend="aer", gradient="backprop")
    with pytest.raises(ConfigurationError, match="max_memory_bytes"):
        hq.QuantumLayer(circuits.ry(1), backend="torch", backend_options={"device": "GPU"})


def test_unsimulable_circuits_are_clear_errors():
    x = Parameter("x")
    measured = QuantumCircuit(2, 1)
    measured.ry(x, 0)
    measured.measure(0, 0)
    measured.cx(0, 1)
    with pytest.raises(CircuitError, match="mid-circuit"):
        compile_circuit(measured, [x])
    reset = QuantumCircuit(1)
    reset.ry(x, 0)
    reset.reset(0)
    with pytest.raises(CircuitError, match="reset"):
        compile_circuit(reset, [x])
    opaque = QuantumCircuit(2)
    opaque.ry(x, 0)
    opaque.append(Gate("blackbox", 2, []), [0, 1])
    with pytest.raises(CircuitError, match="'blackbox' has no matrix"):
        hq.QuantumLayer(ParameterizedCircuit(opaque, [x]), backend="torch")
    opaque_param = QuantumCircuit(1)
    opaque_param.append(Gate("blackbox", 1, [x]), [0])
    with pytest.raises(CircuitError, match="blackbox"):
        hq.QuantumLayer(ParameterizedCircuit(opaque_param, [x]), backend="torch")


def test_too_many_qubits_reports_the_bytes_needed():
    x = Parameter("x")
    qc = QuantumCircuit(41)
    qc.ry(x, 0)
    with pytest.raises(BackendError, match=r"35,184,372,088,832 bytes"):
        hq.QuantumLayer(ParameterizedCircuit(qc, [x]), backend="torch")
    layer = hq.QuantumLayer(
        circuits.variational(6, 1), backend="torch", backend_options={"max_memory_bytes": 100_000}
    )
    layer(torch.rand(1, 6, dtype=torch.float64))  # ~20 states of 1 KiB with autograd history
    with pytest.raises(BackendError, match=r"batch 64 .* need about [\d,]+ bytes .*100,000"):
        layer(torch.rand(64, 6, dtype=torch.float64))


def test_bad_weight_argument():
    layer = hq.QuantumLayer(circuits.variational(2, 1), backend="torch")
    with pytest.raises(InputError, match=r"shape \(2,\) or \(3, 2\)"):
        layer(torch.rand(3, 2), weight=torch.rand(4, 2))
    with pytest.raises(InputError, match="NaN"):
        layer(torch.rand(3, 2), weight=torch.tensor([0.0, float("nan")]))


def test_training_step_on_torch_backend():
    torch.manual_seed(0)
    x = torch.rand(24, 2) * 2 - 1
    target = (x[:, :1] * x[:, 1:] > 0).float() * 2 - 1
    model = nn.Sequential(
        hq.QuantumLayer(circuits.variational(2, 2), backend="torch"), nn.Linear(2, 1)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("gradient", ["backprop", "adjoint"])
def test_cuda_tensors(gradient):
    layer = hq.QuantumLayer(rich_spec(), backend="torch", gradient=gradient).cuda()
    x = torch.rand(3, 2, device="cuda", requires_grad=True)
    y = layer(x)
    assert y.device == x.device
    y.sum().backward()
    assert x.grad.device == x.device and layer.weight.grad.device == x.device


def test_matches_pennylane_default_qubit_when_installed():
    qml = pytest.importorskip("pennylane")
    spec = circuits.variational(3, 2, "ring")
    pairs = circuits.entangling_pairs(3, "ring")
    dev = qml.device("default.qubit", wires=3)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(x, w):
        for q in range(3):
            qml.RY(x[..., q], wires=q)
        for layer in range(2):
            for q in range(3):
                qml.RY(w[layer * 3 + q], wires=q)
            for c, t in pairs:
                qml.CNOT(wires=[c, t])
        return [qml.expval(qml.PauliZ(q)) for q in range(3)]

    x = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(6, dtype=torch.float64, requires_grad=True)
    theirs = torch.stack(list(circuit(x, w)), dim=-1)
    gx, gw = torch.autograd.grad(theirs.sum(), (x, w))
    layer = layer_with(spec, w.detach().numpy())
    xi = x.detach().clone().requires_grad_()
    ours = layer(xi)
    ours.sum().backward()
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)
    torch.testing.assert_close(xi.grad, gx, atol=1e-12, rtol=0)
    torch.testing.assert_close(layer.weight.grad, gw, atol=1e-12, rtol=0)


def test_tracker_counts_torch_simulations():
    from hybridqml.execution._tracking import Tracker

    layer = hq.QuantumLayer(circuits.variational(2, 1), backend="torch")
    with Tracker() as tracker:
        layer(torch.rand(5, 2, requires_grad=True)).sum().backward()
    # forward and backward, as on the other backends
    assert (tracker.calls, tracker.evaluations, tracker.by_backend) == (2, 10, {"torch": 10})


@pytest.mark.parametrize(("name", "n_angles"), [("u", 3), ("u3", 3), ("u2", 2), ("r", 2)])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_closed_form_matrices_have_the_requested_dtype_and_match_qiskit(name, n_angles, dtype):
    from qiskit.circuit.library import get_standard_gate_name_mapping

    from hybridqml.backends.torchsim._gates import build_matrix

    rng = np.random.default_rng(0)
    values = rng.uniform(-3, 3, size=(4, n_angles))
    angles = [torch.tensor(values[:, k], dtype=torch.float64) for k in range(n_angles)]
    got = build_matrix(name, angles, dtype)
    assert got.dtype == dtype and got.shape == (4, 2, 2)  # float64 angles, any complex dtype
    gate = get_standard_gate_name_mapping()[name].base_class
    for row, params in zip(got.numpy(), values, strict=True):
        np.testing.assert_allclose(row, Operator(gate(*params)).data, atol=1e-6)


def test_library_gates_outside_the_gate_table_are_fitted_with_either_frequency():
    from qiskit.circuit.library import CU1Gate, RYGate, U1Gate

    from hybridqml.backends.torchsim._gates import TrigGate, describe

    t = Parameter("t")
    renamed = RYGate(t)
    renamed.name = "ry_renamed"  # not in the table: the frequency (2) must be found by fitting
    for gate, omega in ((U1Gate(t), 1.0), (CU1Gate(t), 1.0), (renamed, 2.0)):
        described = describe(gate)
        assert isinstance(described, TrigGate) and described.omega == omega


def test_custom_one_parameter_gates_are_decomposed_not_fitted():
    """Only library gates are fitted; a user's gate goes through its definition (module doc)."""
    from hybridqml.backends.torchsim._gates import describe

    class DoubleAngleRY(Gate):
        def __init__(self, theta):
            super().__init__("double_angle_ry", 1, [theta])

        def _define(self):
            qc = QuantumCircuit(1)
            qc.ry(2 * self.params[0], 0)
            self.definition = qc

    assert describe(DoubleAngleRY(Parameter("t"))) is None


def _full_register_monomial(m, qubits, n):
    """The gate's (perm, phase) on all 2**n amplitudes, built index by index (reference)."""
    cols = (np.abs(m) > 1e-14).argmax(axis=1)
    perm, phase = np.empty(1 << n, dtype=np.int64), np.empty(1 << n, dtype=complex)
    for i in range(1 << n):
        row = sum(((i >> q) & 1) << j for j, q in enumerate(qubits))
        source = i
        for j, q in enumerate(qubits):
            source = (source & ~(1 << q)) | (((int(cols[row]) >> j) & 1) << q)
        perm[i], phase[i] = source, m[row, cols[row]]
    return perm, phase


def test_monomial_blocks_compose_like_the_full_register_permutations():
    """Sequences of 1- to 3-qubit monomial gates, with and without phases, composed in place."""
    from hybridqml.backends.torchsim._compiler import (
        GateRef,
        _compose_monomial,
        _monomial_factors,
    )

    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(2, 6))
        want_perm, want_phase = np.arange(1 << n), np.ones(1 << n, dtype=complex)
        perm, phase = np.arange(1 << n, dtype=np.int32), None
        for _ in range(int(rng.integers(1, 5))):
            k = int(rng.integers(1, min(n, 3) + 1))
            qubits = tuple(int(q) for q in rng.permutation(n)[:k])
            m = np.zeros((1 << k, 1 << k), dtype=complex)
            with_phase = rng.random() < 0.5
            values = np.exp(1j * rng.uniform(0, 6, 1 << k)) if with_phase else 1
            m[np.arange(1 << k), rng.permutation(1 << k)] = values
            p2, d2 = _full_register_monomial(m, qubits, n)
            # first the block so far, then this gate: out[i] = d2[i] d1[p2[i]] psi[p1[p2[i]]]
            want_perm, want_phase = want_perm[p2], d2 * want_phase[p2]
            factors = _monomial_factors(GateRef("const", 1 << k, matrix=m))
            phase = _compose_monomial(perm, phase, qubits, n, *factors)
        np.testing.assert_array_equal(perm, want_perm)
        if phase is None:
            np.testing.assert_array_equal(want_phase, 1)
        else:
            np.testing.assert_allclose(phase, want_phase, atol=1e-12)
    # a non-monomial gate (H) is not one
    h = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    assert _monomial_factors(GateRef("const", 2, matrix=h)) is None
