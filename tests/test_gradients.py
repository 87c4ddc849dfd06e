"""Gradient plans, tested without a backend: angles are evaluated with qiskit's Statevector."""

import numpy as np
import pytest
from _circuits import rich_spec, statevector_expectations
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, Parameter
from qiskit.quantum_info import Statevector

from hybridqml import circuits
from hybridqml.circuits import ParameterizedCircuit
from hybridqml.circuits._gates import PAULI_ROTATIONS
from hybridqml.circuits._shiftable import ShiftableCircuit
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


def test_finite_difference_wrt_mask_plans_and_fills_only_the_requested_columns():
    spec = rich_spec()
    s = ShiftableCircuit(spec)
    theta = np.random.default_rng(4).uniform(-1, 1, size=(2, 4))
    wrt = np.array([False, True, False, True])
    plan = FiniteDifference(epsilon=1e-5).plan(s, theta, wrt)
    assert plan.angles.shape[0] == 2 * 2 * 2  # samples x requested parameters x (+h, -h)
    jac = plan.recombine(evaluate(s, plan.angles))
    ref = central_fd(spec, theta)
    np.testing.assert_allclose(jac[:, :, wrt], ref[:, :, wrt], atol=1e-7)
    assert np.all(jac[:, :, ~wrt] == 0)


@pytest.mark.parametrize("epsilon", [0, -1e-3, float("nan")])
def test_non_positive_steps_are_refused_with_a_message(epsilon):
    for rule in (FiniteDifference, SPSA):
        with pytest.raises(ConfigurationError, match="epsilon"):
            rule(epsilon=epsilon)


def test_spsa_random_state_round_trip_resumes_the_direction_sequence():
    s = ShiftableCircuit(circuits.variational(3, 1))
    theta = np.zeros((2, 6))
    rule = SPSA(seed=5)
    rule.plan(s, theta)  # advance past the seed
    snapshot = rule.random_state()
    expected = [rule.plan(s, theta).angles for _ in range(3)]
    # Restoring it (on the same rule or a fresh one with another seed) replays the directions.
    for target in (rule, SPSA(seed=99)):
        target.set_random_state(snapshot)
        replay = [target.plan(s, theta).angles for _ in range(3)]
        for a, b in zip(expected, replay, strict=True):
            np.testing.assert_array_equal(a, b)


def test_spsa_random_state_is_a_plain_snapshot():
    rule = SPSA(seed=1)
    snapshot = rule.random_state()
    assert snapshot == SPSA(seed=1).random_state() != SPSA(seed=2).random_state()
    before = dict(snapshot)
    rule.plan(ShiftableCircuit(circuits.variational(2, 1)), np.zeros((1, 4)))
    assert snapshot == before != rule.random_state()  # later draws do not alter the snapshot


def test_spsa_wrt_mask_perturbs_and_estimates_only_the_requested_parameters():
    spec = circuits.variational(2, 1)
    s = ShiftableCircuit(spec)  # every parameter used once: angles == theta
    theta = np.array([[0.3, -0.5, 0.8, 0.1], [1.0, 0.2, -0.7, 0.4]])
    wrt = np.array([False, True, True, False])
    c = 1e-2
    plan = SPSA(epsilon=c, batch_size=3, seed=2).plan(s, theta, wrt)
    angles = plan.angles.reshape(2, 3, 2, 4)
    assert np.all(np.isfinite(plan.angles))
    for sign, k in ((1, 0), (-1, 1)):
        step = (angles[:, :, k] - theta[:, None, :]) * sign
        np.testing.assert_array_equal(step[..., ~wrt], 0.0)  # unrequested: not perturbed
        np.testing.assert_allclose(np.abs(step[..., wrt]), c)  # requested: +-c
    jac = plan.recombine(evaluate(s, plan.angles))
    assert np.all(np.isfinite(jac)) and np.all(jac[:, :, ~wrt] == 0)


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, "4"])
def test_spsa_batch_size_errors_name_the_argument(batch_size):
    with pytest.raises(ConfigurationError, match="batch_size"):
        SPSA(batch_size=batch_size)


def _rz_of(expr_of_w):
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    qc.rz(expr_of_w(w), 0)
    return ShiftableCircuit(ParameterizedCircuit(qc, [x], [w]))


def test_angle_expressions_with_rounding_level_imaginary_parts_are_real():
    s = _rz_of(lambda w: 2 * w + 1e-15j)  # complex arithmetic, real up to rounding
    theta = np.array([[0.1, 0.2], [0.3, 0.4]])
    np.testing.assert_array_equal(s.angles(theta), [[0.1, 0.4], [0.3, 0.8]])
    np.testing.assert_array_equal(s.jacobian(theta)[0], [[1.0, 0.0], [0.0, 2.0]])


def test_complex_angles_are_refused():
    from hybridqml.exceptions import GradientError

    with pytest.raises(GradientError, match="complex angle"):
        _rz_of(lambda w: 2 * w + 0.5j).angles(np.array([[0.1, 0.2]]))
    with pytest.raises(GradientError, match="is not real"):
        _rz_of(lambda w: 1j * w)


def test_rule_reprs_show_their_settings():
    assert repr(ParameterShift()) == "ParameterShift()"
    assert repr(FiniteDifference(epsilon=0.5)) == "FiniteDifference(epsilon=0.5)"
    assert repr(SPSA(epsilon=0.25, batch_size=3)) == "SPSA(epsilon=0.25, batch_size=3)"


def test_get_rule_seeds_spsa_and_lists_the_rules_when_unknown():
    s = ShiftableCircuit(circuits.variational(3, 1))
    theta = np.zeros((2, 6))
    a, b = (get_rule("spsa", seed=3).plan(s, theta).angles for _ in range(2))
    np.testing.assert_array_equal(a, b)  # the seed reaches the direction generator
    with pytest.raises(
        ConfigurationError,
        match="choose one of parameter-shift, finite-diff, spsa or pass a GradientRule instance",
    ):
        get_rule("backprop")


def test_shiftable_circuit_keeps_fixed_gates_and_its_spec():
    spec = circuits.ry(2)
    s = ShiftableCircuit(spec)
    assert s.spec is spec and len(s.expressions) == s.n_angles == 2
    assert s.circuit.count_ops()["h"] == 2  # fixed gates pass through, not re-synthesised
