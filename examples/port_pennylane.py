"""
Porting PennyLane's "Turning quantum nodes into Torch Layers"
=============================================================

PennyLane's tutorial classifies the two moons of ``make_moons`` with
``Linear(2, 2) -> TorchLayer(qnode) -> Linear(2, 2) -> Softmax``, where the QNode is
``AngleEmbedding`` + ``BasicEntanglerLayers`` (6 layers, 2 qubits) measured with one
``expval(PauliZ)`` per wire on ``default.qubit``. Here it is with hybridqml: the QNode becomes a
template, ``TorchLayer(qnode, weight_shapes)`` a ``QuantumLayer`` on the exact torch simulator
(backprop, as ``default.qubit``), and the training loop is unchanged.

Run: ``python examples/port_pennylane.py`` (about 10 s; the figure goes to a temporary folder).
"""

# %%
# Data: 200 noisy moons, one-hot labels (as in the tutorial)
# ----------------------------------------------------------
import functools
import math
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; sphinx-gallery collects the figures itself
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_moons

import hybridqml as hq

QUICK = os.environ.get("HYBRIDQML_EXAMPLES_QUICK") == "1"  # the test suite's small settings
EPOCHS = 3 if QUICK else 6

torch.manual_seed(42)
X, y = make_moons(n_samples=200, noise=0.1, random_state=42)
X_ = torch.tensor(X, dtype=torch.float32)
y_hot = torch.nn.functional.one_hot(torch.tensor(y), 2).float()

# %%
# The QNode as a template, TorchLayer as QuantumLayer
# ---------------------------------------------------
# PennyLane::
#
#     @qml.qnode(dev)
#     def qnode(inputs, weights):
#         qml.AngleEmbedding(inputs, wires=range(2))            # RX(x_i)
#         qml.BasicEntanglerLayers(weights, wires=range(2))     # RX(w) per wire, CNOT ring
#         return [qml.expval(qml.PauliZ(wires=i)) for i in range(2)]
#
#     qlayer = qml.qnn.TorchLayer(qnode, {"weights": (6, 2)})   # init: uniform in [0, 2 pi)
#
# hybridqml: the same circuit, the same default outputs (one <Z> per qubit), the same weight
# layout (``qlayer.weight.view(6, 2)`` is PennyLane's ``weights``) and initialization.
n_qubits, n_layers = 2, 6
spec = hq.circuits.rotation_layers(n_qubits, n_layers, rotations="x", encoding="x")
qlayer = hq.QuantumLayer(
    spec, backend="torch", init=functools.partial(torch.nn.init.uniform_, a=0, b=2 * math.pi)
)
model = torch.nn.Sequential(
    torch.nn.Linear(2, 2), qlayer, torch.nn.Linear(2, 2), torch.nn.Softmax(dim=1)
)
print(model)

# %%
# Training: SGD, L1 loss, batches of 5, as in the tutorial
# --------------------------------------------------------
opt = torch.optim.SGD(model.parameters(), lr=0.2)
loss_fn = torch.nn.L1Loss()
batch_size = 5
history = []
for epoch in range(EPOCHS):
    order = torch.randperm(len(X_))
    running = 0.0
    for start in range(0, len(X_), batch_size):
        idx = order[start : start + batch_size]
        opt.zero_grad()
        loss = loss_fn(model(X_[idx]), y_hot[idx])
        loss.backward()
        opt.step()
        running += loss.item()
    history.append(running / (len(X_) // batch_size))
    print(f"epoch {epoch + 1}: average loss {history[-1]:.4f}")

with torch.no_grad():
    accuracy = (model(X_).argmax(dim=1).numpy() == y).mean()
print(f"accuracy {accuracy * 100:.1f}%")

# %%
# Decision boundary and training curve
# ------------------------------------
xx, yy = np.meshgrid(np.linspace(-1.5, 2.5, 60), np.linspace(-1.0, 1.5, 60))
grid = torch.tensor(np.c_[xx.ravel(), yy.ravel()], dtype=torch.float32)
with torch.no_grad():
    zz = model(grid)[:, 1].numpy().reshape(xx.shape)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.contourf(xx, yy, zz, levels=20, cmap="RdBu", alpha=0.6)
ax1.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu", edgecolors="k", s=15)
ax1.set_title(f"make_moons, accuracy {accuracy * 100:.0f}%")
ax2.plot(range(1, EPOCHS + 1), history, "o-")
ax2.set_xlabel("epoch")
ax2.set_ylabel("average L1 loss")
ax2.set_title("training curve")
fig.tight_layout()
out = Path(tempfile.mkdtemp(prefix="hybridqml-port-pennylane-")) / "port_pennylane.png"
fig.savefig(out)
print("figure:", out)
