"""Probability outputs on the torch simulator: ``|psi|^2`` of the final state, marginalized.

The simulator's final statevector (index ``sum(bit_q << q)``, Qiskit's order) gives the exact
Born probabilities; the readout qubits are kept, the others summed out, and the outcome ->
output table of the :class:`~hybridqml.circuits._outputs.ProbabilityReadout` applied as one
index-add (no dense outcome x output matrix). Everything is torch, so ``gradient="backprop"``
differentiates it.

Example:
    >>> import torch
    >>> from hybridqml import circuits
    >>> from hybridqml.backends.torchsim._simulator import TorchSimulator
    >>> from hybridqml.circuits._outputs import Probabilities
    >>> spec = circuits.ry(2).with_outputs(Probabilities(qubits=[1]))
    >>> sim = TorchSimulator(spec.circuit, spec.parameters, ())
    >>> theta = torch.tensor([[0.0, torch.pi / 2]], dtype=torch.float64)
    >>> probabilities(sim, theta, spec.probabilities).round(decimals=12).tolist()
    [[0.0, 1.0]]
"""

from __future__ import annotations

import torch

from hybridqml.backends.torchsim._simulator import TorchSimulator, complex_dtype
from hybridqml.circuits._outputs import ProbabilityReadout

__all__ = ["marginal", "probabilities"]


def marginal(probs: torch.Tensor, n_qubits: int, qubits: tuple[int, ...]) -> torch.Tensor:
    """(B, 2**n) probabilities -> (B, 2**k) over ``qubits`` (outcome bit ``j``: ``qubits[j]``).

    Example:
        >>> p = torch.tensor([[0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)  # index: q0 + 2 q1
        >>> marginal(p, 2, (1,)).round(decimals=6).tolist()
        [[0.3, 0.7]]
        >>> marginal(p, 2, (1, 0)).round(decimals=6).tolist()    # index = q1 + 2 * q0
        [[0.1, 0.3, 0.2, 0.4]]
    """
    batch = probs.shape[0]
    if qubits == tuple(range(n_qubits)):
        return probs
    t = probs.reshape(batch, *([2] * n_qubits))  # axis 1 + i holds qubit n - 1 - i
    axis = {q: n_qubits - q for q in range(n_qubits)}
    dropped = [axis[q] for q in range(n_qubits) if q not in qubits]
    if dropped:
        t = t.sum(dim=dropped)
    kept = sorted(qubits, reverse=True)  # remaining axes, most significant qubit first
    order = [kept.index(q) + 1 for q in reversed(qubits)]  # new most significant: qubits[-1]
    return t.permute(0, *order).reshape(batch, 1 << len(qubits))


def probabilities(
    simulator: TorchSimulator, theta: torch.Tensor, readout: ProbabilityReadout
) -> torch.Tensor:
    """Outputs (B, output_size) at parameter values ``theta`` (B, P); differentiable.

    Raises:
        InputError: ``theta`` is not a (B, P) floating tensor.
        BackendError: the batch would not fit in memory.
    """
    simulator.check_input(theta)
    simulator.check_memory(
        theta.shape[0], complex_dtype(theta.dtype), theta.device, backprop=theta.requires_grad
    )
    psi = simulator.state(theta)
    probs = marginal(psi.real**2 + psi.imag**2, simulator.n_qubits, readout.qubits)
    if readout.is_identity:
        return probs
    table = torch.as_tensor(readout.table, device=probs.device)
    out = probs.new_zeros((probs.shape[0], readout.output_size))
    return out.index_add(1, table, probs)  # each output sums its outcomes' probabilities
