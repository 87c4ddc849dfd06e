"""
Quick start: a quantum layer in PyTorch
=======================================

A 4-qubit variational circuit becomes a torch layer, run exactly on Qiskit Aer with
parameter-shift gradients (every shifted evaluation of a batch in one Aer call). Then a tiny hybrid
network, classical -> quantum -> classical, learns two concentric circles in a few Adam steps.

Run: ``python examples/quickstart.py`` (a few seconds on a laptop CPU).
"""

# %%
# A quantum layer
# ---------------
import matplotlib.pyplot as plt
import torch
from torch import nn

import hybridqml as hq
from hybridqml.data import load_circles

spec = hq.circuits.variational(n_qubits=4, layers=2)
layer = hq.QuantumLayer(spec, backend="aer")
y = layer(torch.rand(32, 4))  # (32, 4): <Z> of every qubit
y.sum().backward()  # parameter-shift gradients: one Aer call
print("outputs", tuple(y.shape), "weight gradient", tuple(layer.weight.grad.shape))

# %%
# A tiny hybrid classifier
# ------------------------
torch.manual_seed(0)
x, labels = load_circles(n_samples=200, seed=0).train.tensors
model = nn.Sequential(
    nn.Linear(2, 4), nn.Tanh(), hq.QuantumLayer(spec, backend="aer"), nn.Linear(4, 2)
)
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
losses = []
for step in range(15):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    if step % 3 == 0 or step == 14:
        print(f"step {step:2d}  loss {loss.item():.4f}")

figure, axes = plt.subplots(figsize=(5, 3.5))
axes.plot(losses, marker="o")
axes.set_xlabel("Adam step")
axes.set_ylabel("cross-entropy loss")
axes.set_title("Hybrid network on two circles, exact Aer")
figure.tight_layout()
