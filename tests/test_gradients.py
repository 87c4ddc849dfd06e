"""Gradient plans, tested without a backend: angles are evaluated with qiskit's Statevector."""

import numpy as np
import pytest
from _circuits import rich_spec, statevector_expectations
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, Parameter
from qiskit.quantum_info import Statevector

from hybridqml import circuits
from hybridqml.circuits import ParameterizedCircuit
from hybridqml.circuits.gates import PAULI_ROTATIONS
from hybridqml.circuits.shiftable import ShiftableCircuit
from hybridqml.exceptions import ConfigurationError
from hybridqml.gradients import SPSA, FiniteDifference, ParameterShift, get_rule


def evaluate(shiftable: ShiftableCircuit, angles: np.ndarray) -> np.ndarray:
    circuit = shiftable.circuit
    out = []
    for row in np.atleast_2d(angles):
        sv = Statevector(
            circuit.assign_parameters(dict(zip(shiftable.angle_vector, row, strict=True)))
        )
        out.append([sv.expectation_value(o).real for o in shiftable.observables])
    return np.array(out)


def central_fd(spec, theta, h=1e-5):
    jac = np.zeros((theta.shape[0], spec.n_outputs, theta.shape[1]))
    for j in range(theta.shape[1]):
        e = np.zeros(theta.shape[1])
        e[j] = h
        jac[:, :, j] = (
            statevector_expectations(spec, theta + e) - statevector_expectations(spec, theta - e)
        ) / (2 * h)
    return jac


def test_closed_form_ry():
    shiftable = ShiftableCircuit(circuits.ry(1))
    theta = np.linspace(-3, 3, 7)[:, None]
    plan = ParameterShift().plan(shiftable, theta)
    jac = plan.recombine(evaluate(shiftable, plan.angles))
    np.testing.assert_allclose(jac[:, 0, 0], -np.cos(theta[:, 0]), atol=1e-12)


def test_closed_form_ry_from_zero_state():
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    shiftable = ShiftableCircuit(ParameterizedCircuit(qc, [x]))
    theta = np.array([[0.0], [0.5], [2.0]])
    plan = ParameterShift().plan(shiftable, theta)
    jac = plan.recombine(evaluate(shiftable, plan.angles))
    np.testing.assert_allclose(jac[:, 0, 0], -np.sin(theta[:, 0]), atol=1e-12)


def test_every_parameterized_gate_is_a_pauli_rotation_with_own_angle():
    s = ShiftableCircuit(rich_spec())
    names = set()
    for ci in s.circuit.data:
        if ci.operation.params and not all(isinstance(p, float) for p in ci.operation.params):
            names.add(ci.operation.name)
    assert names <= PAULI_ROTATIONS
    assert set(s.circuit.parameters) == set(s.angle_vector)
    assert s.n_angles == len(s.angle_vector) > 9  # cry, crx, u, cp unrolled to several rotations


def test_angles_reproduce_the_original_circuit():
    spec = rich_spec()
    s = ShiftableCircuit(spec)
    theta = np.random.default_rng(0).uniform(-2, 2, size=(4, 4))
    np.testing.assert_allclose(
        evaluate(s, s.angles(theta)), statevector_expectations(spec, theta), atol=1e-12
    )


def test_parameter_shift_matches_finite_differences_on_rich_circuit():
    spec = rich_spec()
    s = ShiftableCircuit(spec)
    theta = np.random.default_rng(1).uniform(-2, 2, size=(3, 4))
    plan = ParameterShift().plan(s, theta)
    jac = plan.recombine(evaluate(s, plan.angles))
    np.testing.assert_allclose(jac, central_fd(spec, theta), atol=1e-8)


def test_chain_rule_through_product():
    # <Z> after RY(x*w)|0> is cos(x*w): d/dx = -w sin(xw), d/dw = -x sin(xw)
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x * w, 0)
    s = ShiftableCircuit(ParameterizedCircuit(qc, [x], [w]))
    theta = np.array([[0.7, 1.3], [-0.4, 2.1]])
    plan = ParameterShift().plan(s, theta)
    jac = plan.recombine(evaluate(s, plan.angles))[:, 0, :]
    xw = theta[:, 0] * theta[:, 1]
    expected = np.stack([-theta[:, 1] * np.sin(xw), -theta[:, 0] * np.sin(xw)], axis=1)
    np.testing.assert_allclose(jac, expected, atol=1e-12)


def test_wrt_mask_skips_work_and_zeros_columns():
    spec = rich_spec()
    s = ShiftableCircuit(spec)
    theta = np.random.default_rng(2).uniform(-1, 1, size=(2, 4))
    full = ParameterShift().plan(s, theta)
    weights_only = ParameterShift().plan(s, theta, np.array([False, False, True, True]))
    assert weights_only.angles.shape[0] < full.angles.shape[0]
    jac_full = full.recombine(evaluate(s, full.angles))
    jac_w = weights_only.recombine(evaluate(s, weights_only.angles))
    np.testing.assert_allclose(jac_w[:, :, 2:], jac_full[:, :, 2:], atol=1e-12)
    assert np.all(jac_w[:, :, :2] == 0)


def test_plan_size_is_batch_times_two_times_occurrences():
    spec = circuits.variational(3, 2)
    s = ShiftableCircuit(spec)
    theta = np.zeros((5, spec.n_inputs + spec.n_weights))
    assert ParameterShift().plan(s, theta).angles.shape == (5 * 2 * 9, 9)


def test_finite_difference_rule():
    spec = rich_spec()
    s = ShiftableCircuit(spec)
    theta = np.random.default_rng(3).uniform(-1, 1, size=(2, 4))
    plan = FiniteDifference(epsilon=1e-5).plan(s, theta)
    jac = plan.recombine(evaluate(s, plan.angles))
    exact = ParameterShift().plan(s, theta)
    np.testing.assert_allclose(jac, exact.recombine(evaluate(s, exact.angles)), atol=1e-7)


def test_spsa_is_unbiased_on_average():
    spec = circuits.variational(2, 1)
    s = ShiftableCircuit(spec)
    theta = np.tile(np.array([[0.3, -0.5, 0.8, 0.1]]), (400, 1))
    plan = SPSA(epsilon=1e-3, seed=7).plan(s, theta)
    jac = plan.recombine(evaluate(s, plan.angles)).mean(axis=0)
    exact = ParameterShift().plan(s, theta[:1])
    ref = exact.recombine(evaluate(s, exact.angles))[0]
    # each SPSA estimate is exact + zero-mean cross terms of size <= sum |g|; 400 samples
    assert np.abs(jac - ref).max() < 0.25
    assert plan.angles.shape[0] == 400 * 2


def test_spsa_batch_is_the_average_of_its_directions_estimates():
    # Independent recombination: read each direction back from the planned angles (variational
    # circuits use every parameter once, so angles == theta) and average the estimates by hand.
    spec = circuits.variational(2, 1)
    s = ShiftableCircuit(spec)
    theta = np.array([[0.3, -0.5, 0.8, 0.1], [1.0, 0.2, -0.7, 0.4]])
    np.testing.assert_array_equal(s.angles(theta), theta)  # the premise
    c, b = 1e-2, 5
    plan = SPSA(epsilon=c, batch_size=b, seed=3).plan(s, theta)
    values = evaluate(s, plan.angles)
    jac = plan.recombine(values)
    angles = plan.angles.reshape(2, b, 2, 4)  # (sample, direction, +/-, parameter)
    f = values.reshape(2, b, 2, spec.n_outputs)
    for n in range(2):
        estimates = []
        for k in range(b):
            d = (angles[n, k, 0] - angles[n, k, 1]) / (2 * c)
            np.testing.assert_allclose(np.abs(d), 1.0)  # Rademacher directions
            np.testing.assert_allclose(angles[n, k, 0], theta[n] + c * d)
            estimates.append(np.outer((f[n, k, 0] - f[n, k, 1]) / (2 * c), d))
        np.testing.assert_allclose(jac[n], np.mean(estimates, axis=0), atol=1e-12)


def test_spsa_batches_average_to_the_true_gradient():
    # E[estimate] = gradient (up to O(c^2)) whatever the batch size; a sum instead of a mean
    # would give batch_size times the gradient.
    spec = circuits.variational(2, 1)
    s = ShiftableCircuit(spec)
    theta = np.tile(np.array([[0.3, -0.5, 0.8, 0.1]]), (150, 1))
    exact = ParameterShift().plan(s, theta[:1])
    ref = exact.recombine(evaluate(s, exact.angles))[0]
    plan = SPSA(epsilon=1e-3, batch_size=8, seed=11).plan(s, theta)
    jac = plan.recombine(evaluate(s, plan.angles))
    # each batch estimate = ref + cross terms with std <= sum|g| / sqrt(8); mean of 150: < 0.1
    np.testing.assert_allclose(jac.mean(axis=0), ref, atol=0.1)


def test_spsa_directions_change_between_plans():
    s = ShiftableCircuit(circuits.variational(3, 1))
    theta = np.zeros((1, 6))
    rule = SPSA(seed=0)
    assert not np.array_equal(rule.plan(s, theta).angles, rule.plan(s, theta).angles)


def test_get_rule():
    assert isinstance(get_rule("parameter-shift"), ParameterShift)
    assert isinstance(get_rule("finite-diff"), FiniteDifference)
    assert isinstance(get_rule("spsa", seed=1), SPSA)
    rule = FiniteDifference(epsilon=0.1)
    assert get_rule(rule) is rule
    with pytest.raises(ConfigurationError, match="unknown gradient 'adjoint'"):
        get_rule("adjoint")
    with pytest.raises(ConfigurationError):
        FiniteDifference(epsilon=0)
    with pytest.raises(ConfigurationError):
        SPSA(batch_size=0)


def test_custom_gate_with_definition_is_unrolled():
    x = Parameter("x")
    inner = QuantumCircuit(2, name="mygate")
    inner.h(0)
    inner.crz(x, 0, 1)
    inner.ry(2 * x, 1)
    gate = inner.to_gate()
    qc = QuantumCircuit(2)
    qc.append(gate, [0, 1])
    spec = ParameterizedCircuit(qc, [x], observables=["XZ", "ZX"])
    s = ShiftableCircuit(spec)
    theta = np.array([[0.4], [1.9]])
    plan = ParameterShift().plan(s, theta)
    np.testing.assert_allclose(
        plan.recombine(evaluate(s, plan.angles)), central_fd(spec, theta), atol=1e-8
    )


def test_opaque_parameterized_gate_raises_gradient_error():
    from hybridqml.exceptions import GradientError

    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.append(Gate("opaque", 1, [x]), [0])
    with pytest.raises(GradientError, match="opaque"):
        ShiftableCircuit(ParameterizedCircuit(qc, [x]))
