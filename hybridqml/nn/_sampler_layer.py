"""``SamplerLayer``: a quantum layer whose outputs are measured probabilities.

The counterpart of qiskit-machine-learning's ``SamplerQNN`` (and of PennyLane's ``qml.probs``):
output ``j`` is the probability of the measured bitstrings that ``interpret`` maps to ``j``.
Outcomes are Qiskit's little-endian integers (bit ``j`` is qubit ``qubits[j]``; over all qubits
the integer ``sum(q_i << i)``), as ``SamplerQNN`` reads a circuit measuring qubit ``i`` into
classical bit ``i``. Gradients are exact parameter-shift (each probability is the expectation of
a projector), or torch's backprop on ``backend="torch"``; each forward and each backward pass is
one primitive call on every backend (exact or sampled Aer, fake devices with their gate and
readout noise, IBM Runtime ``SamplerV2``, the torch simulator).

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.SamplerLayer(hq.circuits.variational(3, 1), interpret=hq.circuits.parity,
    ...                         output_size=2)
    >>> probs = layer(torch.rand(4, 3))
    >>> probs.shape, bool(torch.allclose(probs.sum(1), torch.ones(4)))
    (torch.Size([4, 2]), True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hybridqml.circuits._outputs import Probabilities
from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import CircuitError
from hybridqml.nn._layers import QuantumLayer

__all__ = ["SamplerLayer"]


class SamplerLayer(QuantumLayer):
    """A :class:`~hybridqml.QuantumLayer` whose outputs are the bitstring distribution.

    Args:
        circuit: The circuit specification (its observables are replaced by the readout).
        qubits: Qubits to measure, ``None`` for all; outcome bit ``j`` is qubit ``qubits[j]``.
        interpret: Outcome integer -> output index (e.g. :func:`hybridqml.circuits.parity`),
            ``None`` for one output per outcome (``2**len(qubits)`` outputs).
        output_size: Number of outputs, required with ``interpret``.
        **options: As :class:`~hybridqml.QuantumLayer` (``backend``, ``shots``, ``seed``,
            ``gradient``, ``init``, ...). ``gradient="adjoint"`` is not offered here.

    Raises:
        CircuitError: bad ``qubits``, ``interpret`` or ``output_size`` (see
            :class:`~hybridqml.circuits.Probabilities`).
        ConfigurationError: an Estimator primitive as backend (it has no samples).

    Example:
        >>> import torch, hybridqml as hq
        >>> layer = hq.SamplerLayer(hq.circuits.ry(2), qubits=[1])
        >>> layer(torch.tensor([0.0, torch.pi / 2])).round(decimals=6).tolist()  # qubit 1: |1>
        [0.0, 1.0]
    """

    def __init__(
        self,
        circuit: ParameterizedCircuit,
        *,
        qubits: Sequence[int] | None = None,
        interpret: Callable[[int], int] | None = None,
        output_size: int | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(circuit, ParameterizedCircuit):
            raise CircuitError(
                f"expected a ParameterizedCircuit, got {type(circuit).__name__}; build one with "
                "hybridqml.circuits.ParameterizedCircuit(...) or hybridqml.circuits.from_qiskit"
            )
        readout = Probabilities(qubits=qubits, interpret=interpret, output_size=output_size)
        super().__init__(circuit.with_outputs(readout), **options)
