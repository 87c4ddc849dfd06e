"""Circuits: what a quantum layer computes, before any backend or gradient is chosen.

* ``_spec`` -- :class:`ParameterizedCircuit` (contract): a Qiskit circuit with
  its ordered input and weight parameters and its observables.
* ``_library`` -- builders: :func:`ry` (the textbook circuit),
  :func:`variational` (RY encoding + trainable RY layers + CNOT entanglers).
* ``_templates`` -- :func:`rotation_layers` (RX/RY/RZ blocks, data
  re-uploading), :func:`strongly_entangling` (PennyLane's layout), :func:`from_qiskit` (Qiskit's
  circuit library with inputs and weights split).
* ``_outputs`` -- :class:`Probabilities`: the measured distribution as
  outputs (with :func:`parity`, the common ``interpret``).
* ``_gates`` -- the one gate table read by the gradient rules and the torch
  simulator.
* ``_shiftable`` -- the circuit in per-occurrence Pauli-rotation form that
  gradient rules shift and executors bind.

Example:
    >>> from hybridqml import circuits
    >>> spec = circuits.variational(n_qubits=3, layers=2)
    >>> spec.n_inputs, spec.n_weights, spec.n_outputs
    (3, 6, 3)
"""

from hybridqml.circuits._gates import expand_gate
from hybridqml.circuits._library import ENTANGLEMENTS, entangling_pairs, ry, variational
from hybridqml.circuits._outputs import Probabilities, parity
from hybridqml.circuits._spec import ParameterizedCircuit, z_observables
from hybridqml.circuits._templates import from_qiskit, rotation_layers, strongly_entangling

__all__ = [
    "ENTANGLEMENTS",
    "ParameterizedCircuit",
    "Probabilities",
    "entangling_pairs",
    "expand_gate",
    "from_qiskit",
    "parity",
    "rotation_layers",
    "ry",
    "strongly_entangling",
    "variational",
    "z_observables",
]
