"""Parameterized circuit specifications: what a quantum layer computes.

A :class:`ParameterizedCircuit` bundles a Qiskit ``QuantumCircuit`` with the ordered input
parameters (fed from data), the ordered trainable weight parameters, and the observables whose
expectation values form the layer's outputs. Builders of common circuits live in
``hybridqml.circuits._library``.

Example:
    >>> from qiskit import QuantumCircuit
    >>> from qiskit.circuit import Parameter, ParameterVector
    >>> x, w = Parameter("x"), Parameter("w")
    >>> qc = QuantumCircuit(1); _ = qc.ry(x, 0); _ = qc.rx(w, 0)
    >>> spec = ParameterizedCircuit(qc, [x], [w])
    >>> spec.n_inputs, spec.n_weights, spec.n_outputs
    (1, 1, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeAlias

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import Pauli, SparsePauliOp

from hybridqml.circuits._outputs import Probabilities, ProbabilityReadout
from hybridqml.exceptions import CircuitError

__all__ = ["ParameterizedCircuit", "z_observables"]

#: Instructions that make a circuit unusable as a layer (expectation values need a pure circuit).
_NON_UNITARY = frozenset({"measure", "reset", "initialize", "delay"})

ObservableLike: TypeAlias = "SparsePauliOp | Pauli | str"


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
        input_params: Parameters bound from input data, in input-column order; may be empty
            (a circuit without inputs, such as a qGAN generator, takes ``(B, 0)`` inputs).
        weight_params: Trainable parameters, in the order of the layer's ``weight`` tensor.
        observables: Pauli observables (``SparsePauliOp``, ``Pauli`` or labels), or a single
            one (a ``SparsePauliOp`` is one observable however many terms it has). Defaults to
            Z on each qubit (qiskit-machine-learning's ``EstimatorQNN`` defaults to one Z...Z).
            A :class:`~hybridqml.circuits.Probabilities` instead makes the outputs the
            measured bitstring distribution (see :attr:`probabilities`).

    Raises:
        CircuitError: if a parameter of the circuit is neither an input nor a weight, a listed
            parameter is not in the circuit, a parameter is listed twice, the circuit measures
            or resets, or an observable has the wrong width.

    Example:
        >>> from qiskit import QuantumCircuit
        >>> from qiskit.circuit import Parameter, ParameterVector
        >>> x, w = Parameter("x"), Parameter("w")
        >>> qc = QuantumCircuit(1)
        >>> _ = qc.ry(x, 0)
        >>> _ = qc.rx(w, 0)
        >>> spec = ParameterizedCircuit(qc, [x], [w])
        >>> spec.n_outputs
        1
    """

    __slots__ = ("_circuit", "_inputs", "_observables", "_readout", "_weights")

    def __init__(
        self,
        circuit: QuantumCircuit,
        input_params: Sequence[Parameter] | ParameterVector,
        weight_params: Sequence[Parameter] | ParameterVector = (),
        observables: Sequence[ObservableLike] | ObservableLike | Probabilities | None = None,
    ) -> None:
        if not isinstance(circuit, QuantumCircuit):
            raise CircuitError(f"circuit must be a qiskit QuantumCircuit, got {type(circuit)!r}")
        inputs = _as_parameters(input_params, "input_params")
        weights = _as_parameters(weight_params, "weight_params")
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
        readout = None
        obs: tuple[SparsePauliOp, ...]
        if isinstance(observables, Probabilities):
            readout, obs = observables.resolve(circuit.num_qubits), ()
        elif observables is None:
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
        self._readout = readout

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
    def probabilities(self) -> ProbabilityReadout | None:
        """The probability readout when the outputs are a distribution, else ``None``.

        Then :attr:`observables` is empty and output ``j`` is the probability of the outcomes
        mapped to ``j``.
        """
        return self._readout

    def with_outputs(
        self, observables: Sequence[ObservableLike] | ObservableLike | Probabilities | None
    ) -> ParameterizedCircuit:
        """The same circuit and parameters with other outputs.

        Example:
            >>> from hybridqml import circuits
            >>> circuits.ry(2).with_outputs(Probabilities()).n_outputs
            4
        """
        return ParameterizedCircuit(self._circuit, self._inputs, self._weights, observables)

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
        """Number of outputs: observables, or probabilities (after ``interpret``)."""
        if self._readout is not None:
            return self._readout.output_size
        return len(self._observables)

    def __repr__(self) -> str:
        return (
            f"ParameterizedCircuit(n_qubits={self.n_qubits}, n_inputs={self.n_inputs}, "
            f"n_weights={self.n_weights}, n_outputs={self.n_outputs})"
        )

    def __getstate__(self) -> dict:
        return {s: getattr(self, s) for s in self.__slots__}

    def __setstate__(self, state: dict) -> None:
        state = {"_readout": None, **state}  # specs pickled before probability outputs
        for k, v in state.items():
            object.__setattr__(self, k, v)


def _names(params: Iterable[Parameter]) -> str:
    return ", ".join(sorted(p.name for p in params))
