"""Parameterized circuit specifications: what a quantum layer computes.

A :class:`ParameterizedCircuit` bundles a Qiskit ``QuantumCircuit`` with the ordered input
parameters (fed from data), the ordered trainable weight parameters, and the observables whose
expectation values form the layer's outputs. Two builders cover the common cases:

* :func:`ry` -- the Qiskit-textbook circuit: H then RY(input) on every qubit.
* :func:`variational` -- RY angle encoding of the inputs followed by ``layers`` blocks of trainable
  RY rotations and entangling CNOTs.

Example:
    >>> from hybridqml import circuits
    >>> spec = circuits.variational(n_qubits=3, layers=2)
    >>> spec.n_inputs, spec.n_weights, spec.n_outputs
    (3, 6, 3)
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Literal

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import Pauli, SparsePauliOp

from hybridqml.exceptions import CircuitError

__all__ = [
    "ENTANGLEMENTS",
    "ParameterizedCircuit",
    "entangling_pairs",
    "expand_gate",
    "ry",
    "variational",
    "z_observables",
]

#: Entanglement patterns understood by :func:`variational`.
ENTANGLEMENTS = ("ring", "linear", "full")

#: Instructions that make a circuit unusable as a layer (expectation values need a pure circuit).
_NON_UNITARY = frozenset({"measure", "reset", "initialize", "delay"})

ObservableLike = SparsePauliOp | Pauli | str


def z_observables(n_qubits: int) -> tuple[SparsePauliOp, ...]:
    """Return the default observables: Z on each qubit, in qubit order.

    Qiskit labels are little-endian, so Z on qubit ``i`` is the label with ``Z`` at string position
    ``n_qubits - 1 - i``.

    Example:
        >>> [op.paulis[0].to_label() for op in z_observables(2)]
        ['IZ', 'ZI']
    """
    return tuple(
        SparsePauliOp.from_sparse_list([("Z", [i], 1.0)], num_qubits=n_qubits)
        for i in range(n_qubits)
    )


def _as_observable(obs: ObservableLike, n_qubits: int, index: int) -> SparsePauliOp:
    try:
        op = obs if isinstance(obs, SparsePauliOp) else SparsePauliOp(obs)
    except Exception as exc:
        raise CircuitError(
            f"observable {index} ({obs!r}) is not a Pauli operator: {exc}. "
            "Pass a SparsePauliOp, a Pauli or a Pauli label such as 'IZ'."
        ) from exc
    if op.num_qubits != n_qubits:
        raise CircuitError(
            f"observable {index} acts on {op.num_qubits} qubits but the circuit has {n_qubits}"
        )
    op = op.simplify(atol=0.0)
    if any(abs(c.imag) > 1e-12 for c in op.coeffs):
        raise CircuitError(
            f"observable {index} has complex coefficients; a layer output must be Hermitian"
        )
    return SparsePauliOp(op.paulis, op.coeffs.real.astype(complex))


def _as_parameters(params: Iterable[Parameter] | Parameter, role: str) -> tuple[Parameter, ...]:
    if isinstance(params, Parameter):  # a single parameter (ParameterVector is not one)
        params = [params]
    try:
        out = tuple(params)
    except TypeError:
        raise CircuitError(
            f"{role} must be a sequence of qiskit Parameters or a ParameterVector, got "
            f"{type(params).__name__}"
        ) from None
    for p in out:
        if not isinstance(p, Parameter):
            raise CircuitError(f"{role} must be qiskit Parameters, got {p!r} ({type(p).__name__})")
    if len(set(out)) != len(out):
        raise CircuitError(f"{role} contains a parameter more than once")
    return out


class ParameterizedCircuit:
    """A circuit with ordered input parameters, weight parameters and observables.

    Output ``i`` of a layer built on this spec is the expectation value of ``observables[i]``.

    Args:
        circuit: A unitary Qiskit circuit (no measurements or resets).
        input_params: Parameters bound from input data, in input-column order.
        weight_params: Trainable parameters, in the order of the layer's ``weight`` tensor.
        observables: Pauli observables (``SparsePauliOp``, ``Pauli`` or labels), or a single
            one (a ``SparsePauliOp`` is one observable however many terms it has). Defaults to
            Z on each qubit.

    Raises:
        CircuitError: if a parameter of the circuit is neither an input nor a weight, a listed
            parameter is not in the circuit, a parameter is listed twice, the circuit measures
            or resets, there are no inputs, or an observable has the wrong width.

    Example:
        >>> from qiskit import QuantumCircuit
        >>> from qiskit.circuit import Parameter
        >>> x, w = Parameter("x"), Parameter("w")
        >>> qc = QuantumCircuit(1)
        >>> _ = qc.ry(x, 0)
        >>> _ = qc.rx(w, 0)
        >>> spec = ParameterizedCircuit(qc, [x], [w])
        >>> spec.n_outputs
        1
    """

    __slots__ = ("_circuit", "_inputs", "_observables", "_weights")

    def __init__(
        self,
        circuit: QuantumCircuit,
        input_params: Sequence[Parameter] | ParameterVector,
        weight_params: Sequence[Parameter] | ParameterVector = (),
        observables: Sequence[ObservableLike] | ObservableLike | None = None,
    ) -> None:
        if not isinstance(circuit, QuantumCircuit):
            raise CircuitError(f"circuit must be a qiskit QuantumCircuit, got {type(circuit)!r}")
        inputs = _as_parameters(input_params, "input_params")
        weights = _as_parameters(weight_params, "weight_params")
        if not inputs:
            raise CircuitError("a quantum layer needs at least one input parameter")
        both = set(inputs) & set(weights)
        if both:
            raise CircuitError(f"parameters used as both input and weight: {_names(both)}")
        in_circuit = set(circuit.parameters)
        unknown = (set(inputs) | set(weights)) - in_circuit
        if unknown:
            raise CircuitError(f"parameters not present in the circuit: {_names(unknown)}")
        missing = in_circuit - set(inputs) - set(weights)
        if missing:
            raise CircuitError(
                f"circuit parameters that are neither inputs nor weights: {_names(missing)}"
            )
        bad_ops = {ci.operation.name for ci in circuit.data} & _NON_UNITARY
        if bad_ops or circuit.num_clbits:
            raise CircuitError(
                "the circuit must be unitary (no measurements, resets or classical bits); "
                f"found {sorted(bad_ops) or 'classical bits'}. Remove them: expectation values "
                "are measured by the backend."
            )
        if circuit.num_qubits == 0:
            raise CircuitError("the circuit has no qubits")
        if observables is None:
            obs = z_observables(circuit.num_qubits)
        elif isinstance(observables, (str, Pauli, SparsePauliOp)):
            # one observable, not a sequence of its terms or characters
            obs = (_as_observable(observables, circuit.num_qubits, 0),)
        else:
            obs = tuple(_as_observable(o, circuit.num_qubits, i) for i, o in enumerate(observables))
            if not obs:
                raise CircuitError("observables must not be empty")
        self._circuit = circuit.copy()
        self._inputs = inputs
        self._weights = weights
        self._observables = obs

    @property
    def circuit(self) -> QuantumCircuit:
        """A copy of the circuit (the spec itself is immutable)."""
        return self._circuit.copy()

    @property
    def input_params(self) -> tuple[Parameter, ...]:
        """Input parameters, in input-column order."""
        return self._inputs

    @property
    def weight_params(self) -> tuple[Parameter, ...]:
        """Trainable parameters, in weight-vector order."""
        return self._weights

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """Inputs followed by weights: the column order of every parameter array."""
        return self._inputs + self._weights

    @property
    def observables(self) -> tuple[SparsePauliOp, ...]:
        """The observables; output ``i`` is the expectation of ``observables[i]``."""
        return self._observables

    @property
    def n_qubits(self) -> int:
        """Number of qubits."""
        return self._circuit.num_qubits

    @property
    def n_inputs(self) -> int:
        """Number of input parameters."""
        return len(self._inputs)

    @property
    def n_weights(self) -> int:
        """Number of trainable parameters."""
        return len(self._weights)

    @property
    def n_outputs(self) -> int:
        """Number of observables (layer outputs)."""
        return len(self._observables)

    def __repr__(self) -> str:
        return (
            f"ParameterizedCircuit(n_qubits={self.n_qubits}, n_inputs={self.n_inputs}, "
            f"n_weights={self.n_weights}, n_outputs={self.n_outputs})"
        )

    def __getstate__(self) -> dict:
        return {s: getattr(self, s) for s in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)


def expand_gate(op, basis_gates: Sequence[str]) -> QuantumCircuit:
    """The circuit of one gate translated into ``basis_gates`` (transpiler, no optimisation).

    Raises whatever the transpiler raises for a gate it cannot translate; callers turn that
    into their own error.

    Example:
        >>> from qiskit.circuit.library import CRYGate
        >>> sorted(expand_gate(CRYGate(0.3), ["ry", "cx"]).count_ops())
        ['cx', 'ry']
    """
    sub = QuantumCircuit(op.num_qubits)
    sub.append(op, range(op.num_qubits))
    return transpile(sub, basis_gates=list(basis_gates), optimization_level=0)


def _names(params: Iterable[Parameter]) -> str:
    return ", ".join(sorted(p.name for p in params))


def ry(n_qubits: int = 1) -> ParameterizedCircuit:
    """The Qiskit-textbook circuit: H then RY(x_i) on each qubit, measured in Z.

    With one qubit, ``<Z> = -sin(x)`` (H maps ``|0>`` to ``|+>``, then RY rotates it).
    The spec has no weights; the surrounding classical layers do the learning.

    Example:
        >>> ry(1).n_inputs, ry(1).n_weights
        (1, 0)
    """
    n_qubits = _check_positive("n_qubits", n_qubits)
    x = ParameterVector("x", n_qubits)
    qc = QuantumCircuit(n_qubits, name="ry")
    for q in range(n_qubits):
        qc.h(q)
        qc.ry(x[q], q)
    return ParameterizedCircuit(qc, list(x), [])


def entangling_pairs(
    n_qubits: int, entanglement: Literal["ring", "linear", "full"] = "ring"
) -> list[tuple[int, int]]:
    """Control/target pairs of the CNOTs in one entangling block.

    ``linear``: (0,1), (1,2), ...; ``ring``: linear plus (n-1, 0) when n > 2; ``full``: every
    pair i < j.

    Example:
        >>> entangling_pairs(3, "ring")
        [(0, 1), (1, 2), (2, 0)]
    """
    if entanglement not in ENTANGLEMENTS:
        raise CircuitError(
            f"unknown entanglement {entanglement!r}; choose one of {', '.join(ENTANGLEMENTS)}"
        )
    if entanglement == "full":
        return [(i, j) for i in range(n_qubits) for j in range(i + 1, n_qubits)]
    pairs = [(i, i + 1) for i in range(n_qubits - 1)]
    if entanglement == "ring" and n_qubits > 2:
        pairs.append((n_qubits - 1, 0))
    return pairs


def variational(
    n_qubits: int,
    layers: int = 1,
    entanglement: Literal["ring", "linear", "full"] = "ring",
) -> ParameterizedCircuit:
    """A hardware-efficient variational circuit with RY angle encoding.

    Structure: RY(x_i) on each qubit, then ``layers`` x [RY(w) on each qubit, CNOTs in the
    chosen ``entanglement`` pattern]. Inputs: ``n_qubits``; weights: ``n_qubits * layers``
    (layer-major); outputs: Z on each qubit.

    Args:
        n_qubits: Number of qubits (= inputs = outputs).
        layers: Number of trainable blocks.
        entanglement: ``"ring"``, ``"linear"`` or ``"full"``.

    Example:
        >>> spec = variational(n_qubits=4, layers=2)
        >>> spec.n_weights
        8
    """
    n_qubits = _check_positive("n_qubits", n_qubits)
    layers = _check_positive("layers", layers)
    pairs = entangling_pairs(n_qubits, entanglement)
    x = ParameterVector("x", n_qubits)
    w = ParameterVector("w", n_qubits * layers)
    qc = QuantumCircuit(n_qubits, name=f"variational_{entanglement}")
    for q in range(n_qubits):
        qc.ry(x[q], q)
    for layer in range(layers):
        for q in range(n_qubits):
            qc.ry(w[layer * n_qubits + q], q)
        for c, t in pairs:
            qc.cx(c, t)
    return ParameterizedCircuit(qc, list(x), list(w))


def _check_positive(name: str, value: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise CircuitError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
