"""Templates beyond RY: rotation blocks, strongly entangling layers, re-uploading, Qiskit's library.

* :func:`rotation_layers` -- angle encoding, then ``layers`` x [trainable rotations about the axes
  of ``rotations`` (``"y"``, ``"xyz"``, ...) on every qubit, CNOT entanglers]; with
  ``reupload=True`` the inputs are encoded again before every layer (data re-uploading,
  Pérez-Salinas et al., Quantum 4, 226 (2020)). ``rotations="x", encoding="x"`` is PennyLane's
  ``AngleEmbedding`` + ``BasicEntanglerLayers``.
* :func:`strongly_entangling` -- PennyLane's ``AngleEmbedding`` + ``StronglyEntanglingLayers``
  (Schuld et al., Phys. Rev. A 101, 032308 (2020)), same weight layout.
* :func:`from_qiskit` -- any Qiskit circuit, e.g. ``zz_feature_map(n).compose(real_amplitudes(n))``,
  with the input and weight parameters split automatically.

Weight layouts: the layer's ``weight`` is flat; ``weight.reshape(shape)`` with the shape given by
each builder's docstring gives the peers' layout (PennyLane's ``weight_shapes``), in the same
order, so a PennyLane weight tensor ``w`` loads with ``init=w.reshape(-1)``.

Example:
    >>> spec = strongly_entangling(n_qubits=3, layers=2)
    >>> spec.n_inputs, spec.n_weights, spec.n_outputs    # weights: (layers, n_qubits, 3)
    (3, 18, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector

from hybridqml.circuits._library import _check_positive, entangling_pairs
from hybridqml.circuits._spec import ObservableLike, ParameterizedCircuit
from hybridqml.exceptions import CircuitError

__all__ = ["AXES", "from_qiskit", "rotation_layers", "strongly_entangling"]

#: Rotation axes understood by :func:`rotation_layers` (gate names ``rx``, ``ry``, ``rz``).
AXES = ("x", "y", "z")


def _axes(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or set(value.lower()) - set(AXES):
        raise CircuitError(
            f"{what} must be a non-empty string of the axes x, y, z (e.g. 'y' or 'xyz'), "
            f"got {value!r}"
        )
    return value.lower()


def _encode(qc: QuantumCircuit, x: ParameterVector, axes: str) -> None:
    for q in range(qc.num_qubits):
        for axis in axes:
            getattr(qc, f"r{axis}")(x[q], q)


def rotation_layers(
    n_qubits: int,
    layers: int = 1,
    *,
    rotations: str = "xyz",
    encoding: str = "y",
    entanglement: Literal["ring", "linear", "full"] = "ring",
    reupload: bool = False,
) -> ParameterizedCircuit:
    """Angle encoding, then layers of trainable rotation blocks and CNOT entanglers.

    Structure: ``R_encoding(x_q)`` on each qubit (again before every layer with ``reupload``),
    then ``layers`` x [on each qubit the rotations ``R_a(w)`` for ``a`` in ``rotations``, in that
    order; CNOTs of :func:`~hybridqml.circuits.entangling_pairs`]. Outputs: Z on each
    qubit.

    Args:
        n_qubits: Number of qubits (= inputs).
        layers: Number of trainable blocks.
        rotations: Axes of the trainable rotations per qubit and layer: ``"y"`` (as
            :func:`~hybridqml.circuits.variational`), ``"x"``, ``"xyz"`` (three angles
            per qubit per layer), ``"zyz"``...
        encoding: Axes of the input rotations (``"y"``; PennyLane's ``AngleEmbedding``
            default is ``"x"``).
        entanglement: ``"ring"``, ``"linear"`` or ``"full"``.
        reupload: Encode the inputs again before every layer (data re-uploading).

    Weights: ``n_qubits * layers * len(rotations)``, layout ``(layers, n_qubits, len(rotations))``
    (PennyLane's ``BasicEntanglerLayers`` weights ``(layers, n_qubits)`` for one axis).

    Example:
        >>> spec = rotation_layers(2, layers=3, rotations="xyz")
        >>> spec.n_weights                    # (3, 2, 3)
        18
        >>> sorted(rotation_layers(2, 2, rotations="x", reupload=True).circuit.count_ops().items())
        [('cx', 2), ('rx', 4), ('ry', 4)]
    """
    n_qubits = _check_positive("n_qubits", n_qubits)
    layers = _check_positive("layers", layers)
    rotations, encoding = _axes(rotations, "rotations"), _axes(encoding, "encoding")
    pairs = entangling_pairs(n_qubits, entanglement)
    x = ParameterVector("x", n_qubits)
    w = ParameterVector("w", layers * n_qubits * len(rotations))
    qc = QuantumCircuit(n_qubits, name=f"rotation_layers_{rotations}")
    _encode(qc, x, encoding)
    k = 0
    for layer in range(layers):
        if reupload and layer:
            _encode(qc, x, encoding)
        for q in range(n_qubits):
            for axis in rotations:
                getattr(qc, f"r{axis}")(w[k], q)
                k += 1
        for c, t in pairs:
            qc.cx(c, t)
    return ParameterizedCircuit(qc, list(x), list(w))


def strongly_entangling(
    n_qubits: int,
    layers: int = 1,
    *,
    ranges: Sequence[int] | None = None,
    encoding: str = "x",
    reupload: bool = False,
) -> ParameterizedCircuit:
    """PennyLane's ``AngleEmbedding`` + ``StronglyEntanglingLayers``, as a spec.

    Structure: ``R_encoding(x_q)`` on each qubit, then per layer ``l``: ``Rot(a, b, c) =
    RZ(c) RY(b) RZ(a)`` on each qubit ``q`` with ``(a, b, c) = w[l, q]``, then (for more than one
    qubit) ``CNOT(q, (q + r_l) mod n)`` for ``q = 0 .. n-1``, with range ``r_l = ranges[l]``,
    by default ``l mod (n - 1) + 1``. With ``reupload``, the encoding is repeated before every
    layer (data re-uploading). Outputs: Z on each qubit.

    Weights: ``(layers, n_qubits, 3)`` flattened row-major, PennyLane's
    ``StronglyEntanglingLayers.shape(n_layers=layers, n_wires=n_qubits)`` in the same order.

    Raises:
        CircuitError: a range outside ``1 .. n_qubits - 1`` or a ``ranges`` of the wrong length.

    Example:
        >>> sorted(strongly_entangling(3, 2).circuit.count_ops().items())
        [('cx', 6), ('rx', 3), ('ry', 6), ('rz', 12)]
    """
    n_qubits = _check_positive("n_qubits", n_qubits)
    layers = _check_positive("layers", layers)
    encoding = _axes(encoding, "encoding")
    if ranges is None:
        ranges = [layer % (n_qubits - 1) + 1 if n_qubits > 1 else 0 for layer in range(layers)]
    ranges = list(ranges)
    if len(ranges) != layers or (
        n_qubits > 1 and any(not isinstance(r, int) or not 0 < r < n_qubits for r in ranges)
    ):
        raise CircuitError(
            f"ranges must hold {layers} ints in 1..{n_qubits - 1} (one per layer), got {ranges!r}"
        )
    x = ParameterVector("x", n_qubits)
    w = ParameterVector("w", layers * n_qubits * 3)
    qc = QuantumCircuit(n_qubits, name="strongly_entangling")
    _encode(qc, x, encoding)
    for layer in range(layers):
        if reupload and layer:
            _encode(qc, x, encoding)
        for q in range(n_qubits):
            a, b, c = (w[(layer * n_qubits + q) * 3 + i] for i in range(3))
            qc.rz(a, q)
            qc.ry(b, q)
            qc.rz(c, q)
        if n_qubits > 1:
            for q in range(n_qubits):
                qc.cx(q, (q + ranges[layer]) % n_qubits)
    return ParameterizedCircuit(qc, list(x), list(w))


def from_qiskit(
    circuit: QuantumCircuit,
    ansatz: QuantumCircuit | None = None,
    *,
    inputs: Sequence[Parameter] | QuantumCircuit | None = None,
    observables: Sequence[ObservableLike] | ObservableLike | None = None,
) -> ParameterizedCircuit:
    """A spec from Qiskit circuits, inputs and weights split automatically.

    * ``from_qiskit(feature_map, ansatz)``: the composition; the feature map's parameters are
      the inputs, the ansatz's the weights (as qiskit-ML's ``QNNCircuit`` and tutorials do).
    * ``from_qiskit(circuit, inputs=params_or_feature_map)``: the given inputs, every other
      parameter a weight; ``inputs=[]`` for a circuit without inputs (a qGAN generator).
    * ``from_qiskit(circuit)``: the parameters named ``x[i]`` (the default prefix of
      ``zz_feature_map``, ``z_feature_map``, ``pauli_feature_map``) are the inputs, every other
      one (``θ[i]`` of ``real_amplitudes``, ``efficient_su2``, ``n_local``) a weight.

    Inputs and weights keep Qiskit's parameter order (``circuit.parameters``: vector elements
    by index), so weights from a qiskit-ML network load unchanged. Outputs: ``observables``, by
    default Z on each qubit (qiskit-ML's default would be one ``Z...Z``: pass
    ``observables="Z" * n`` for it).

    Raises:
        CircuitError: no inputs found (pass ``inputs=``), or as
            :class:`~hybridqml.circuits.ParameterizedCircuit`.

    Example:
        >>> from qiskit.circuit.library import real_amplitudes, zz_feature_map
        >>> spec = from_qiskit(zz_feature_map(2), real_amplitudes(2, reps=1))
        >>> [p.name for p in spec.input_params], spec.n_weights
        (['x[0]', 'x[1]'], 4)
        >>> from_qiskit(zz_feature_map(2).compose(real_amplitudes(2, reps=1))).n_weights
        4
        >>> from_qiskit(real_amplitudes(2, reps=1), inputs=[]).n_inputs   # a generator
        0
    """
    if not isinstance(circuit, QuantumCircuit):
        raise CircuitError(f"circuit must be a qiskit QuantumCircuit, got {type(circuit)!r}")
    if ansatz is not None:
        if inputs is not None:
            raise CircuitError("give either an ansatz (its feature map is the inputs) or inputs")
        if ansatz.num_qubits != circuit.num_qubits:
            raise CircuitError(
                f"the ansatz has {ansatz.num_qubits} qubits, the feature map {circuit.num_qubits}"
            )
        inputs, circuit = circuit, circuit.compose(ansatz)
    if isinstance(inputs, QuantumCircuit):
        inputs = list(inputs.parameters)
    if inputs is None:
        inputs = [p for p in circuit.parameters if p.name.startswith("x[")]
        if not inputs:
            raise CircuitError(
                "no input parameters named x[i] found; say which ones are inputs: "
                "from_qiskit(circuit, inputs=[...]) or from_qiskit(feature_map, ansatz), "
                "or inputs=[] for a circuit without inputs (every parameter a weight, e.g. "
                "a qGAN generator)"
            )
    inputs = list(inputs)
    chosen = set(inputs)
    weights = [p for p in circuit.parameters if p not in chosen]
    return ParameterizedCircuit(circuit, inputs, weights, observables)
