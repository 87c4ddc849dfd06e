"""The pieces of hybridqml.mitigation against independent references (no backend runs)."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import Operator

from hybridqml.exceptions import CircuitError, ConfigurationError
from hybridqml.mitigation import (
    Mitigation,
    ReadoutCalibration,
    as_mitigation,
    extrapolate,
    extrapolation_weights,
    fold_circuit,
    folded_scale,
)
from hybridqml.mitigation._readout import (
    calibration_from_counts,
    calibration_from_noise_model,
    correct_counts,
    correct_distribution,
    project_simplex,
)

# ------------------------------------------------------------------------------------ options


def test_names_and_options():
    assert as_mitigation(None) is None and as_mitigation("none") is None
    both = as_mitigation("readout+zne")
    assert both.readout and both.zne and both.label == "readout+zne"
    assert as_mitigation("zne").label == "zne" and not as_mitigation("zne").readout
    assert as_mitigation("readout").cost_multiplier == 1.0
    assert as_mitigation("zne").cost_multiplier == 3.0
    assert Mitigation(zne=True, extrapolator="exponential").linear is False
    assert Mitigation(readout=True, project=True).linear is False
    assert Mitigation(zne=True).linear


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale_factors": (1,)},
        {"scale_factors": (1, 1)},
        {"scale_factors": (0.5, 1)},
        {"scale_factors": "abc"},
        {"extrapolator": "cubic"},
        {"extrapolator": "polynomial", "order": 3, "scale_factors": (1, 3, 5)},
        {"calibration": "magic"},
        {"calibration_shots": 0},
        {"max_calibration_age": -1},
    ],
)
def test_bad_options_are_named(kwargs):
    with pytest.raises(ConfigurationError):
        Mitigation(zne=True, **kwargs)


def test_unknown_name():
    with pytest.raises(ConfigurationError, match="readout\\+zne"):
        as_mitigation("pec")
    with pytest.raises(ConfigurationError):
        as_mitigation(3)


# ------------------------------------------------------------------------------ extrapolation


def test_richardson_by_hand():
    # Lagrange basis at 0 through (1, 3, 5): 15/8, -5/4, 3/8
    assert np.allclose(extrapolation_weights((1, 3, 5), "richardson"), [15 / 8, -5 / 4, 3 / 8])
    # a quadratic in the scale is extrapolated exactly to its constant term
    a, b, c = 0.7, -0.2, 0.03
    values = np.array([a + b * s + c * s * s for s in (1, 3, 5)])
    hand = 15 / 8 * values[0] - 5 / 4 * values[1] + 3 / 8 * values[2]
    assert extrapolate((1, 3, 5), values, "richardson") == pytest.approx(hand, abs=1e-12)
    assert hand == pytest.approx(a, abs=1e-12)


def test_linear_and_polynomial_are_least_squares():
    rng = np.random.default_rng(3)
    scales = (1.0, 2.0, 3.0, 4.5)
    y = rng.normal(size=(4, 5, 2))
    for degree, name in ((1, "linear"), (2, "polynomial")):
        got = extrapolate(scales, y, name, order=degree)
        ref = np.array(
            [[np.polyfit(scales, y[:, i, j], degree)[-1] for j in range(2)] for i in range(5)]
        )
        assert np.allclose(got, ref, atol=1e-12)


def test_weights_match_mitiq():
    from mitiq.zne.inference import LinearFactory, PolyFactory, RichardsonFactory

    rng = np.random.default_rng(5)
    scales = [1.0, 2.0, 3.5]
    for _ in range(3):
        y = list(rng.normal(size=3))
        assert extrapolate(scales, np.array(y), "richardson") == pytest.approx(
            RichardsonFactory.extrapolate(scales, y), abs=1e-9
        )
        assert extrapolate(scales, np.array(y), "linear") == pytest.approx(
            LinearFactory.extrapolate(scales, y), abs=1e-9
        )
        assert extrapolate(scales, np.array(y), "polynomial", order=2) == pytest.approx(
            PolyFactory.extrapolate(scales, y, order=2), abs=1e-9
        )


def test_exponential_recovers_the_zero_noise_value():
    scales = (1.0, 2.0, 3.0)
    values = np.array([[0.8 * np.exp(-0.3 * s), -0.5 * np.exp(-0.1 * s)] for s in scales])
    assert np.allclose(extrapolate(scales, values, "exponential"), [0.8, -0.5], atol=1e-6)


# ------------------------------------------------------------------------------------ folding


def _circuit():
    theta = ParameterVector("t", 3)
    qc = QuantumCircuit(2, 2)
    qc.ry(theta[0], 0)
    qc.sx(1)
    qc.cx(0, 1)
    qc.rz(theta[1] * 2, 1)
    qc.ry(theta[2], 0)
    qc.measure([0, 1], [0, 1])
    return qc, theta


def _unitary(qc, theta, values):
    bound = qc.assign_parameters(dict(zip(theta, values, strict=True)))
    bound.remove_final_measurements()
    return Operator(bound)


@pytest.mark.parametrize("scale", [1, 2, 3, 3.4, 5])
def test_folding_keeps_the_unitary_and_scales_the_gates(scale):
    qc, theta = _circuit()
    folded = fold_circuit(qc, scale)
    values = [0.3, -1.1, 2.0]
    assert _unitary(folded, theta, values).equiv(_unitary(qc, theta, values))
    gates = [i for i in folded.data if i.operation.name not in ("barrier", "measure")]
    assert len(gates) == pytest.approx(5 * folded_scale(qc, scale))
    assert abs(folded_scale(qc, scale) - scale) <= 1 / 5 + 1e-9  # whole gates
    assert [i.operation.name for i in folded.data[-2:]] == ["measure", "measure"]


def test_partial_fold_by_hand():
    qc, _ = _circuit()  # 5 gates: scale 3.4 is one full fold and the last gate folded
    names = [i.operation.name for i in fold_circuit(qc, 3.4).data if i.operation.name != "barrier"]
    # U, U^dagger (reversed, each gate inverted), U, then the last gate folded once more
    assert names == [
        *["ry", "sx", "cx", "rz", "ry"],
        *["ry", "rz", "cx", "sxdg", "ry"],
        *["ry", "sx", "cx", "rz", "ry"],
        *["ry", "ry"],
        *["measure", "measure"],
    ]
    assert folded_scale(qc, 3.4) == pytest.approx(17 / 5)


def test_folding_refuses_mid_circuit_measurements():
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.x(0)
    with pytest.raises(CircuitError, match="mid-circuit"):
        fold_circuit(qc, 3)


# ------------------------------------------------------------------------------------ readout


A0 = np.array([[0.97, 0.08], [0.03, 0.92]])  # A[measured, prepared] of qubit 5
A1 = np.array([[0.90, 0.15], [0.10, 0.85]])  # of qubit 2


def test_exact_correction_is_the_written_out_inverse():
    # bits (b1 b0) read from qubits (2, 5): outcome index = b0 + 2 b1, A = A1 (x) A0, written out
    a = np.array(
        [
            [0.97 * 0.90, 0.08 * 0.90, 0.97 * 0.15, 0.08 * 0.15],
            [0.03 * 0.90, 0.92 * 0.90, 0.03 * 0.15, 0.92 * 0.15],
            [0.97 * 0.10, 0.08 * 0.10, 0.97 * 0.85, 0.08 * 0.85],
            [0.03 * 0.10, 0.92 * 0.10, 0.03 * 0.85, 0.92 * 0.85],
        ]
    )
    cal = ReadoutCalibration({5: A0, 2: A1}, source="test")
    true = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.0, 0.0, 0.3]])
    noisy = true @ a.T
    got = correct_distribution(noisy, np.arange(4), (5, 2), cal)
    assert np.allclose(got, np.linalg.solve(a, noisy.T).T, atol=1e-12)
    assert np.allclose(got, true, atol=1e-12)
    # outcomes missing from the noisy distribution (zero probability) are still corrected
    partial = correct_distribution(noisy[:, [0, 2, 3]], np.array([0, 2, 3]), (5, 2), cal)
    noisy_zeroed = noisy.copy()
    noisy_zeroed[:, 1] = 0
    assert np.allclose(partial, np.linalg.solve(a, noisy_zeroed.T).T, atol=1e-12)


def test_m3_with_shots_converges_to_the_inverse():
    cal = ReadoutCalibration({5: A0, 2: A1}, source="test")
    true = np.array([0.1, 0.2, 0.3, 0.4])
    noisy = cal.matrix((5, 2)) @ true
    counts = np.random.default_rng(0).multinomial(400_000, noisy)[None, :]
    outcomes, values = correct_counts(counts, np.arange(4), (5, 2), cal)
    dense = np.zeros(4)
    dense[outcomes[0]] = values[0]
    assert dense.sum() == pytest.approx(1.0, abs=1e-6)  # mthree computes in float32
    assert np.allclose(dense, true, atol=5 * 1.5 / np.sqrt(400_000))


def test_calibration_from_noise_model_transposes_aer():
    from qiskit_aer.noise import NoiseModel, ReadoutError

    noise = NoiseModel()
    noise.add_readout_error(ReadoutError([[0.95, 0.05], [0.2, 0.8]]), [1])  # [prepared][measured]
    cal = calibration_from_noise_model(noise, (0, 1))
    assert np.allclose(cal.matrices[1], [[0.95, 0.2], [0.05, 0.8]])
    assert np.allclose(cal.matrices[0], np.eye(2))
    assert cal.to_json()["qubits"]["1"] == [0.05, 0.2]


def test_calibration_from_counts():
    zeros = np.array([0b00] * 90 + [0b01] * 10)  # bit 0 (qubit 7) flips 0->1 10%
    ones = np.array([0b11] * 70 + [0b01] * 30)  # bit 1 (qubit 3) flips 1->0 30%
    cal = calibration_from_counts(zeros, ones, (7, 3), 100)
    assert np.allclose(cal.matrices[7], [[0.9, 0.0], [0.1, 1.0]])
    assert np.allclose(cal.matrices[3], [[1.0, 0.3], [0.0, 0.7]])
    assert cal.shots == 100 and cal.age >= 0


def test_simplex_projection():
    got = project_simplex(np.array([[1.1, -0.1], [0.5, 0.5], [0.6, 0.6], [0.9, 0.3, -0.1]][:3]))
    assert np.allclose(got, [[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    rng = np.random.default_rng(2)
    v = rng.normal(size=(20, 4))
    p = project_simplex(v)
    assert np.allclose(p.sum(1), 1) and (p >= 0).all()
    # optimality: no random point of the simplex is closer
    for row, proj in zip(v, p, strict=True):
        others = rng.dirichlet(np.ones(4), size=200)
        assert np.linalg.norm(row - proj) <= np.linalg.norm(others - row, axis=1).min() + 1e-12
