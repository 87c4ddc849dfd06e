"""
Bringing your own Qiskit circuit
================================

Any Qiskit ``QuantumCircuit`` with parameters becomes a layer: say which parameters are inputs
(fed per sample) and which are trainable weights, and which observables to measure. Gates that are
not Pauli rotations are unrolled for the parameter-shift rule; a parameter used twice gets one
shifted pair per occurrence. Here: a circuit with a controlled rotation, a reused weight and a
two-qubit observable, checked against Qiskit's ``Statevector`` and a finite difference.
"""

# %%
# The circuit
# -----------
import matplotlib.pyplot as plt
import numpy as np
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import SparsePauliOp, Statevector

import hybridqml as hq

x = ParameterVector("x", 2)
theta = Parameter("theta")
phi = Parameter("phi")
circuit = QuantumCircuit(2)
circuit.ry(x[0], 0)
circuit.ry(x[1], 1)
circuit.crx(theta, 0, 1)  # not a Pauli rotation: unrolled for the shift rule
circuit.rz(phi, 0)
circuit.ry(theta, 0)  # theta is used twice
circuit.cx(0, 1)
observables = [SparsePauliOp("ZZ"), SparsePauliOp.from_list([("XI", 0.5), ("IZ", 0.5)])]
print(circuit.draw(output="text"))

spec = hq.ParameterizedCircuit(
    circuit, input_params=x, weight_params=[theta, phi], observables=observables
)
layer = hq.QuantumLayer(spec, backend="aer").double()
with torch.no_grad():
    layer.weight.copy_(torch.tensor([0.7, -0.4], dtype=torch.float64))

# %%
# Values against Qiskit's Statevector
# -----------------------------------
inputs = torch.tensor([[0.3, 1.1], [2.0, -0.5]], dtype=torch.float64)
outputs = layer(inputs)
for row, out in zip(inputs.tolist(), outputs.tolist(), strict=True):
    bound = circuit.assign_parameters({x[0]: row[0], x[1]: row[1], theta: 0.7, phi: -0.4})
    state = Statevector(bound)
    reference = [state.expectation_value(o).real for o in observables]
    print("layer", np.round(out, 10), " Statevector", np.round(reference, 10))

# %%
# Gradients: parameter shift against a finite difference
# ------------------------------------------------------
# Sweep the first input and compare d<ZZ>/dx0 from the layer's backward pass (one Aer call for
# all shifted circuits) with a central finite difference of the exact values.
sweep = torch.linspace(-np.pi, np.pi, 41, dtype=torch.float64)
batch = torch.stack([sweep, torch.full_like(sweep, 0.5)], dim=1).requires_grad_(True)
values = layer(batch)[:, 0]
(gradient,) = torch.autograd.grad(values.sum(), batch)
step = 1e-5
with torch.no_grad():
    shifted = torch.tensor([step, 0.0], dtype=torch.float64)
    finite = (layer(batch + shifted)[:, 0] - layer(batch - shifted)[:, 0]) / (2 * step)
print(f"max |parameter shift - finite difference| = {(gradient[:, 0] - finite).abs().max():.2e}")

figure, axes = plt.subplots(figsize=(6, 3.5))
axes.plot(sweep, values.detach(), label="<ZZ>")
axes.plot(sweep, gradient[:, 0], label="d<ZZ>/dx0, parameter shift")
axes.plot(sweep, finite, linestyle="none", marker="x", label="central finite difference")
axes.set_xlabel("x0")
axes.legend(fontsize=8)
figure.tight_layout()
