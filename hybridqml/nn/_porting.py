"""``from_qiskit_ml``: the hybridqml layer equivalent to a qiskit-machine-learning network.

An ``EstimatorQNN`` becomes a :class:`~hybridqml.QuantumLayer` with the same circuit, input and
weight parameters and observables (qiskit-ML's default observable, one ``Z...Z``, included); a
``SamplerQNN`` a :class:`~hybridqml.SamplerLayer` measuring the same qubits in the same bit order
through the same ``interpret`` and output size; a ``TorchConnector`` the layer of its network
with the connector's current weights. Outputs and gradients agree with qiskit-ML's to float64
precision on exact backends (see ``tests/nn/test_from_qiskit_ml.py``).

Example:
    >>> from qiskit.circuit.library import real_amplitudes, zz_feature_map
    >>> from qiskit_machine_learning.neural_networks import EstimatorQNN
    >>> fm, ansatz = zz_feature_map(2), real_amplitudes(2, reps=1)
    >>> qnn = EstimatorQNN(circuit=fm.compose(ansatz), input_params=fm.parameters,
    ...                    weight_params=ansatz.parameters)
    >>> layer = from_qiskit_ml(qnn)
    >>> layer.n_inputs, layer.spec.n_weights, layer.n_outputs    # one Z...Z output
    (2, 4, 1)
"""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import CircuitError, ConfigurationError
from hybridqml.nn._layers import QuantumLayer
from hybridqml.nn._sampler_layer import SamplerLayer

__all__ = ["from_qiskit_ml"]


def from_qiskit_ml(network: Any, *, backend: Any = "aer", **options: Any) -> QuantumLayer:
    """Build the layer equivalent to an ``EstimatorQNN``, ``SamplerQNN`` or ``TorchConnector``.

    Args:
        network: A qiskit-machine-learning ``EstimatorQNN`` or ``SamplerQNN``, or a
            ``TorchConnector`` around one (its weights become the layer's initial weights,
            in their dtype: float32 unless you set them).
        backend: Where the layer runs (default exact Aer). Pass ``network.estimator`` or
            ``network.sampler`` to keep using the network's primitive (a sampler needs
            ``shots``).
        **options: Further :class:`~hybridqml.QuantumLayer` arguments (``shots``, ``seed``,
            ``gradient``, ``init``...). ``init`` overrides a connector's weights.

    Returns:
        A :class:`~hybridqml.QuantumLayer` (a :class:`~hybridqml.SamplerLayer` for a
        ``SamplerQNN``). Unlike qiskit-ML, input gradients are computed whenever the inputs
        require them (there is no ``input_gradients`` switch).

    Raises:
        ConfigurationError: ``network`` is none of these, or is sparse.
        CircuitError: a transpiled circuit (with a layout), a ``SamplerQNN`` whose measurements
            are not one per classical bit, or an ``interpret`` with a multi-dimensional output
            shape.
    """
    connector_weights = None
    if _is_connector(network):
        connector_weights = network.weight.detach().clone()
        network = network.neural_network
    kind = type(network).__name__
    if kind not in ("EstimatorQNN", "SamplerQNN") or not hasattr(network, "circuit"):
        raise ConfigurationError(
            f"from_qiskit_ml takes an EstimatorQNN, a SamplerQNN or a TorchConnector, got {kind}"
        )
    if getattr(network, "sparse", False):
        raise ConfigurationError("sparse SamplerQNN outputs have no hybridqml equivalent")
    circuit = network.circuit
    if getattr(circuit, "layout", None) is not None:
        raise CircuitError(
            f"the {kind}'s circuit is transpiled (it has a layout); build the network on the "
            "logical circuit: hybridqml transpiles for its backend itself"
        )
    if connector_weights is not None and connector_weights.numel():
        options.setdefault("init", connector_weights)
    inputs, weights = list(network.input_params or ()), list(network.weight_params or ())
    if kind == "EstimatorQNN":
        observables = [SparsePauliOp(obs) for obs in network.observables]
        spec = ParameterizedCircuit(circuit, inputs, weights, observables)
        return QuantumLayer(spec, backend=backend, **options)
    body, qubits = _measured_qubits(circuit)
    shape = tuple(network.output_shape)
    if len(shape) != 1:
        raise CircuitError(f"interpret with output shape {shape}: only 1-D outputs are supported")
    spec = ParameterizedCircuit(body, inputs, weights)
    return SamplerLayer(
        spec,
        qubits=qubits,
        interpret=network.interpret,  # qiskit-ML's default is the identity
        output_size=shape[0],
        backend=backend,
        **options,
    )


def _is_connector(obj: Any) -> bool:
    return type(obj).__name__ == "TorchConnector" and hasattr(obj, "neural_network")


def _measured_qubits(circuit: QuantumCircuit) -> tuple[QuantumCircuit, list[int]]:
    """The circuit without measurements, and the qubit measured into each classical bit."""
    if not circuit.clbits:  # SamplerQNN measures every qubit then
        return circuit.copy(), list(range(circuit.num_qubits))
    body = QuantumCircuit(circuit.num_qubits, global_phase=circuit.global_phase)
    qubit_of: dict[int, int] = {}
    for instruction in circuit.data:
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if instruction.operation.name == "measure":
            qubit_of[circuit.find_bit(instruction.clbits[0]).index] = qubits[0]
        elif instruction.operation.name == "barrier":
            if not qubit_of:
                body.barrier(qubits)
        elif qubit_of or instruction.clbits:
            raise CircuitError(
                "the SamplerQNN circuit must end with its measurements (nothing after them, "
                "no classical control)"
            )
        else:
            body.append(instruction.operation, qubits)
    if sorted(qubit_of) != list(range(circuit.num_clbits)):
        raise CircuitError(
            "every classical bit of the SamplerQNN circuit must hold one measured qubit "
            f"(measured bits: {sorted(qubit_of)}, classical bits: {circuit.num_clbits})"
        )
    return body, [qubit_of[c] for c in range(circuit.num_clbits)]
