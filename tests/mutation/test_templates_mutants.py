"""rotation_layers / strongly_entangling: defaults, names, ranges and errors written out.

Each circuit is compared gate by gate with a hand-written list of (gate, qubits, parameter
name), so a changed default, a renamed parameter or a wrong CNOT range shows directly.
"""

from __future__ import annotations

import re

import pytest

from hybridqml import circuits
from hybridqml.exceptions import CircuitError


def gates(spec):
    """(name, qubits, parameter name or None) of every instruction, in order."""
    qc = spec.circuit
    out = []
    for ci in qc.data:
        qubits = tuple(qc.find_bit(q).index for q in ci.qubits)
        param = ci.operation.params[0].name if ci.operation.params else None
        out.append((ci.operation.name, qubits, param))
    return out


def test_rotation_layers_defaults_are_one_xyz_block_after_ry_encoding():
    spec = circuits.rotation_layers(2)
    assert gates(spec) == [
        ("ry", (0,), "x[0]"),
        ("ry", (1,), "x[1]"),
        ("rx", (0,), "w[0]"),
        ("ry", (0,), "w[1]"),
        ("rz", (0,), "w[2]"),
        ("rx", (1,), "w[3]"),
        ("ry", (1,), "w[4]"),
        ("rz", (1,), "w[5]"),
        ("cx", (0, 1), None),  # ring on two qubits: one CNOT
    ]
    assert spec.circuit.name == "rotation_layers_xyz"
    assert [p.name for p in spec.input_params] == ["x[0]", "x[1]"]
    assert [p.name for p in spec.weight_params] == [f"w[{i}]" for i in range(6)]
    assert (spec.n_inputs, spec.n_weights, spec.n_outputs) == (2, 6, 2)


def test_rotation_layers_axes_in_upper_case_are_the_same_axes():
    spec = circuits.rotation_layers(1, rotations="ZX", encoding="X")
    assert gates(spec) == [("rx", (0,), "x[0]"), ("rz", (0,), "w[0]"), ("rx", (0,), "w[1]")]
    assert spec.circuit.name == "rotation_layers_zx"


@pytest.mark.parametrize(
    ("entanglement", "pairs"),
    [
        ("linear", [(0, 1), (1, 2)]),
        ("ring", [(0, 1), (1, 2), (2, 0)]),
        ("full", [(0, 1), (0, 2), (1, 2)]),
    ],
)
def test_rotation_layers_follow_the_entanglement(entanglement, pairs):
    spec = circuits.rotation_layers(3, rotations="y", entanglement=entanglement)
    assert [g[1] for g in gates(spec) if g[0] == "cx"] == pairs


def test_inputs_of_a_template_are_found_by_name_by_from_qiskit():
    # from_qiskit(circuit) takes the parameters named x[i] as the inputs (documented)
    for spec in (circuits.rotation_layers(2, 2), circuits.strongly_entangling(2, 2)):
        again = circuits.from_qiskit(spec.circuit)
        assert [p.name for p in again.input_params] == ["x[0]", "x[1]"]
        assert again.n_weights == spec.n_weights


def test_strongly_entangling_defaults_are_one_layer_x_encoding_no_reupload():
    spec = circuits.strongly_entangling(2)
    assert gates(spec) == [
        ("rx", (0,), "x[0]"),
        ("rx", (1,), "x[1]"),
        ("rz", (0,), "w[0]"),
        ("ry", (0,), "w[1]"),
        ("rz", (0,), "w[2]"),
        ("rz", (1,), "w[3]"),
        ("ry", (1,), "w[4]"),
        ("rz", (1,), "w[5]"),
        ("cx", (0, 1), None),  # range 1
        ("cx", (1, 0), None),
    ]
    assert spec.circuit.name == "strongly_entangling"
    assert [p.name for p in spec.input_params] == ["x[0]", "x[1]"]
    assert [p.name for p in spec.weight_params] == [f"w[{i}]" for i in range(6)]
    two = circuits.strongly_entangling(2, 2)  # encoded once unless reupload=True
    assert [g for g in gates(two) if g[0] == "rx"] == [("rx", (0,), "x[0]"), ("rx", (1,), "x[1]")]
    again = circuits.strongly_entangling(2, 2, reupload=True)
    assert sum(g[0] == "rx" for g in gates(again)) == 4
    assert gates(circuits.strongly_entangling(1, encoding="Y"))[0] == ("ry", (0,), "x[0]")


def test_strongly_entangling_default_ranges_cycle_through_1_to_n_minus_1():
    spec = circuits.strongly_entangling(3, 4)
    cx = [g[1] for g in gates(spec) if g[0] == "cx"]
    # ranges l mod 2 + 1 = 1, 2, 1, 2 (PennyLane's default), CNOT(q, q + r mod 3)
    r1, r2 = [(0, 1), (1, 2), (2, 0)], [(0, 2), (1, 0), (2, 1)]
    assert cx == r1 + r2 + r1 + r2


def test_strongly_entangling_on_one_qubit_has_no_cnot():
    spec = circuits.strongly_entangling(1, 2)
    assert gates(spec) == [
        ("rx", (0,), "x[0]"),
        ("rz", (0,), "w[0]"),
        ("ry", (0,), "w[1]"),
        ("rz", (0,), "w[2]"),
        ("rz", (0,), "w[3]"),
        ("ry", (0,), "w[4]"),
        ("rz", (0,), "w[5]"),
    ]


@pytest.mark.parametrize(
    ("n", "layers", "ranges", "message"),
    [
        (2, 1, [2], "ranges must hold 1 ints in 1..1 (one per layer), got [2]"),
        (2, 1, [0], "ranges must hold 1 ints in 1..1 (one per layer), got [0]"),
        (4, 2, [1, 4], "ranges must hold 2 ints in 1..3 (one per layer), got [1, 4]"),
        (3, 2, [1], "ranges must hold 2 ints in 1..2 (one per layer), got [1]"),
    ],
)
def test_strongly_entangling_refuses_ranges_outside_1_to_n_minus_1(n, layers, ranges, message):
    with pytest.raises(CircuitError, match=f"^{re.escape(message)}$"):
        circuits.strongly_entangling(n, layers, ranges=ranges)


def test_a_range_of_n_minus_1_is_accepted():
    cx = [g[1] for g in gates(circuits.strongly_entangling(2, 1, ranges=[1])) if g[0] == "cx"]
    assert cx == [(0, 1), (1, 0)]


@pytest.mark.parametrize("build", [circuits.rotation_layers, circuits.strongly_entangling])
def test_template_errors_name_the_argument(build):
    with pytest.raises(CircuitError, match=r"^n_qubits must be a positive integer, got 0$"):
        build(0)
    with pytest.raises(CircuitError, match=r"^layers must be a positive integer, got 0$"):
        build(2, 0)
    axes = "must be a non-empty string of the axes x, y, z (e.g. 'y' or 'xyz'), got 'q'"
    with pytest.raises(CircuitError, match=f"^encoding {re.escape(axes)}$"):
        build(2, encoding="q")


def test_rotations_must_be_a_non_empty_string_of_axes():
    tail = "must be a non-empty string of the axes x, y, z (e.g. 'y' or 'xyz'), got "
    for bad in ("q", "", 5, None):
        with pytest.raises(CircuitError, match=f"^rotations {re.escape(tail + repr(bad))}$"):
            circuits.rotation_layers(2, rotations=bad)


# --- from_qiskit


def _fm(n=2):
    from qiskit.circuit.library import zz_feature_map

    return zz_feature_map(n, reps=1)


def _ansatz(n=2):
    from qiskit.circuit.library import real_amplitudes

    return real_amplitudes(n, reps=1)


def test_from_qiskit_refuses_what_is_not_a_circuit():
    with pytest.raises(
        CircuitError, match=r"^circuit must be a qiskit QuantumCircuit, got <class 'str'>$"
    ):
        circuits.from_qiskit("ry")


def test_from_qiskit_takes_an_ansatz_or_inputs_not_both():
    with pytest.raises(
        CircuitError,
        match=r"^give either an ansatz \(its feature map is the inputs\) or inputs$",
    ):
        circuits.from_qiskit(_fm(), _ansatz(), inputs=[])
    with pytest.raises(CircuitError, match=r"^the ansatz has 3 qubits, the feature map 2$"):
        circuits.from_qiskit(_fm(2), _ansatz(3))


def test_from_qiskit_composes_the_ansatz_after_the_feature_map():
    fm, ansatz = _fm(), _ansatz()
    spec = circuits.from_qiskit(fm, ansatz, observables="ZZ")
    assert [p.name for p in spec.input_params] == ["x[0]", "x[1]"]
    assert [p.name for p in spec.weight_params] == ["θ[0]", "θ[1]", "θ[2]", "θ[3]"]
    assert spec.circuit.num_qubits == 2 and spec.n_outputs == 1  # one ZZ output
    ops = [ci.operation for ci in spec.circuit.data]
    assert ops == [ci.operation for ci in fm.data] + [ci.operation for ci in ansatz.data]


def test_from_qiskit_with_a_feature_map_as_inputs():
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    a, b = Parameter("a"), Parameter("b")
    fm = QuantumCircuit(1)
    fm.rx(a, 0)
    qc = fm.copy()
    qc.ry(b, 0)
    spec = circuits.from_qiskit(qc, inputs=fm)
    assert spec.input_params == (a,) and spec.weight_params == (b,)
    assert spec.n_outputs == 1  # Z on the one qubit by default


def test_from_qiskit_finds_inputs_named_x_and_refuses_a_circuit_without_them():
    spec = circuits.from_qiskit(_fm().compose(_ansatz()))
    assert [p.name for p in spec.input_params] == ["x[0]", "x[1]"]
    assert spec.n_weights == 4 and spec.n_outputs == 2
    message = (
        "no input parameters named x[i] found; say which ones are inputs: "
        "from_qiskit(circuit, inputs=[...]) or from_qiskit(feature_map, ansatz), "
        "or inputs=[] for a circuit without inputs (every parameter a weight, e.g. "
        "a qGAN generator)"
    )
    with pytest.raises(CircuitError, match=f"^{re.escape(message)}$"):
        circuits.from_qiskit(_ansatz())
    generator = circuits.from_qiskit(_ansatz(), inputs=[])
    assert generator.n_inputs == 0 and generator.n_weights == 4
