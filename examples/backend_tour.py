"""
A tour of the backends
======================

One circuit, one set of weights, five ways to run it: exact Aer, Aer with 1024 shots, a noisy
fake IBM device (its exact noisy values, then 1024 shots), and the torch statevector simulator
with backprop. Then a layer trained on the fast torch backend is moved, weights and all, to the
fake device to see what noise costs it. The same call with ``backend="ibm:<name>"`` runs on IBM
Quantum hardware (see the IBM hardware guide).
"""

# %%
# The same layer on five backends
# -------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import hybridqml as hq
from hybridqml.data import load_circles

torch.manual_seed(0)
spec = hq.circuits.variational(n_qubits=3, layers=2)
x = torch.rand(16, 3, dtype=torch.float64) * np.pi
weights = torch.rand(spec.n_weights, dtype=torch.float64) * 2 * np.pi

runs = {
    "aer (exact)": dict(backend="aer"),
    "aer, 1024 shots": dict(backend="aer", shots=1024, seed=7),
    "fake_manila (exact noisy)": dict(backend="fake_manila"),
    "fake_manila, 1024 shots": dict(backend="fake_manila", shots=1024, seed=7),
    "torch (backprop)": dict(backend="torch"),
}
outputs, seconds = {}, {}
for name, options in runs.items():
    layer = hq.QuantumLayer(spec, **options).double()
    with torch.no_grad():
        layer.weight.copy_(weights)
    start = time.perf_counter()
    y = layer(x)
    y.sum().backward()
    seconds[name] = time.perf_counter() - start
    outputs[name] = y.detach()
    error = (outputs[name] - outputs["aer (exact)"]).abs().max().item()
    print(
        f"{name:26s} forward+backward {seconds[name] * 1e3:8.1f} ms   max |y - exact| {error:.2e}"
    )

# %%
# Exact Aer and torch agree to rounding; 1024 shots scatter by about ``1/sqrt(1024) = 0.03``
# around the exact values; the fake device's exact noisy values are shifted by its gate and
# readout errors (the largest shift over all outputs is printed above), and its shots scatter
# around those, not around the noiseless values.
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
reference = outputs["aer (exact)"][:, 0].numpy()
order = np.argsort(reference)
for name, y in outputs.items():
    left.plot(
        y[order, 0].numpy(), marker=".", linestyle="-" if "exact" in name else ":", label=name
    )
left.set_xlabel("sample (sorted by exact <Z0>)")
left.set_ylabel("<Z> of qubit 0")
left.legend(fontsize=7)
left.set_title("Outputs")
right.barh(list(seconds), [s * 1e3 for s in seconds.values()], color="tab:purple")
right.set_xlabel("forward + backward, ms (batch 16)")
right.set_title("Time for one pass")
figure.tight_layout()

# %%
# Moving a trained layer
# ----------------------
# Train a small classifier on the torch backend, then move its quantum layer to the noisy fake
# device. ``set_backend`` keeps the weights; the accuracy shows what the device's noise costs.
data = load_circles(n_samples=300, seed=0)
x_train, y_train = data.train.tensors
x_test, y_test = data.test.tensors
quantum = hq.QuantumLayer(hq.circuits.variational(n_qubits=2, layers=2), backend="torch")
model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), quantum, nn.Linear(2, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
for _ in range(60):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x_train), y_train).backward()
    optimizer.step()


def accuracy() -> float:
    with torch.no_grad():
        return (model(x_test).argmax(dim=1) == y_test).float().mean().item()


scores = {"torch (trained here)": accuracy()}
quantum.set_backend("aer")
scores["aer (exact)"] = accuracy()
quantum.set_backend("fake_manila")
scores["fake_manila (exact noisy)"] = accuracy()
for name, score in scores.items():
    print(f"test accuracy on {name:26s} {score:.3f}")

figure, axes = plt.subplots(figsize=(6, 3))
axes.barh(list(scores), list(scores.values()), color="tab:blue")
axes.set_xlim(0, 1)
axes.set_xlabel("test accuracy, same weights")
figure.tight_layout()
