"""The circuit builders against independent numpy references (explicit gate matrices, Kronecker
products), for random parameters: statevectors and the Z expectations the specs measure.

The builders' own structure tests compare them with themselves (the same pair list, the same gate
order); these rebuild each circuit from textbook matrices with hard-coded CNOT pairs, so a CNOT on
the wrong qubits, a swapped control/target, a wrong rotation sign or a weight in the wrong place
changes the state.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from hybridqml import circuits

I2 = np.eye(2)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Z = np.diag([1.0, -1.0]).astype(complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
P0, P1 = np.diag([1.0, 0.0]), np.diag([0.0, 1.0])


def ry(theta: float) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def on(n: int, ops: dict[int, np.ndarray]) -> np.ndarray:
    """The n-qubit operator with ``ops[q]`` on qubit q (Qiskit order: qubit 0 is last)."""
    return functools.reduce(np.kron, [ops.get(q, I2) for q in reversed(range(n))])


def cnot(n: int, control: int, target: int) -> np.ndarray:
    return on(n, {control: P0}) + on(n, {control: P1, target: X})


def zero_state(n: int) -> np.ndarray:
    state = np.zeros(2**n, dtype=complex)
    state[0] = 1.0
    return state


def builder_state(spec, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    values = dict(zip(spec.input_params, x, strict=True))
    values.update(zip(spec.weight_params, w, strict=True))
    return Statevector(spec.circuit.assign_parameters(values)).data


def z_expectations(state: np.ndarray, n: int) -> np.ndarray:
    return np.array([np.real(state.conj() @ on(n, {q: Z}) @ state) for q in range(n)])


def spec_expectations(spec, state: np.ndarray) -> np.ndarray:
    return np.array([np.real(Statevector(state).expectation_value(o)) for o in spec.observables])


# Hard-coded CNOT (control, target) pairs of one entangling block: the reference, not
# circuits.entangling_pairs.
PAIRS = {
    ("linear", 2): [(0, 1)],
    ("ring", 2): [(0, 1)],
    ("full", 2): [(0, 1)],
    ("linear", 3): [(0, 1), (1, 2)],
    ("ring", 3): [(0, 1), (1, 2), (2, 0)],
    ("full", 3): [(0, 1), (0, 2), (1, 2)],
    ("linear", 4): [(0, 1), (1, 2), (2, 3)],
    ("ring", 4): [(0, 1), (1, 2), (2, 3), (3, 0)],
    ("full", 4): [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)],
}


def reference_variational(x, w, *, n: int, layers: int, entanglement: str) -> np.ndarray:
    state = on(n, {q: ry(x[q]) for q in range(n)}) @ zero_state(n)
    for layer in range(layers):
        state = on(n, {q: ry(w[layer * n + q]) for q in range(n)}) @ state
        for control, target in PAIRS[entanglement, n]:
            state = cnot(n, control, target) @ state
    return state


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ry_matches_a_hand_built_state(n):
    rng = np.random.default_rng(n)
    spec = circuits.ry(n)
    for _ in range(3):
        x = rng.uniform(-np.pi, np.pi, n)
        expected = on(n, {q: ry(x[q]) @ H for q in range(n)}) @ zero_state(n)
        np.testing.assert_allclose(builder_state(spec, x, []), expected, atol=1e-12)
        values = spec_expectations(spec, expected)
        np.testing.assert_allclose(values, z_expectations(expected, n), atol=1e-12)
        np.testing.assert_allclose(values, -np.sin(x), atol=1e-12)  # <Z> = -sin(x) per qubit


@pytest.mark.parametrize("entanglement", ["ring", "linear", "full"])
@pytest.mark.parametrize(("n", "layers"), [(2, 2), (3, 1), (3, 2), (4, 2)])
def test_variational_matches_a_hand_built_state(entanglement, n, layers):
    rng = np.random.default_rng(100 * n + layers)
    spec = circuits.variational(n, layers=layers, entanglement=entanglement)
    for _ in range(3):
        x = rng.uniform(-np.pi, np.pi, n)
        w = rng.uniform(-np.pi, np.pi, n * layers)
        expected = reference_variational(x, w, n=n, layers=layers, entanglement=entanglement)
        got = builder_state(spec, x, w)
        np.testing.assert_allclose(got, expected, atol=1e-12)
        np.testing.assert_allclose(
            spec_expectations(spec, got), z_expectations(expected, n), atol=1e-12
        )


def test_the_reference_tells_entanglements_and_cnot_directions_apart():
    # guard: the references differ, so a builder mixing them up cannot match by accident
    rng = np.random.default_rng(7)
    x, w = rng.uniform(-np.pi, np.pi, 3), rng.uniform(-np.pi, np.pi, 6)
    states = {
        ent: reference_variational(x, w, n=3, layers=2, entanglement=ent)
        for ent in ("ring", "linear", "full")
    }
    assert not np.allclose(states["ring"], states["linear"])
    assert not np.allclose(states["ring"], states["full"])
    assert not np.allclose(states["linear"], states["full"])
    assert not np.allclose(cnot(2, 0, 1), cnot(2, 1, 0))
