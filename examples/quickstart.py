"""Quick start: a quantum layer in PyTorch, then a tiny hybrid classifier on two circles.

Run: python examples/quickstart.py   (a few seconds on a laptop CPU)
"""

import torch
from torch import nn

import hybridqml as hq
from hybridqml.data import load_circles

# A 4-qubit variational circuit as a torch layer, run exactly on Qiskit Aer.
spec = hq.circuits.variational(n_qubits=4, layers=2)
layer = hq.QuantumLayer(spec, backend="aer")
y = layer(torch.rand(32, 4))  # (32, 4): <Z> of every qubit
y.sum().backward()  # parameter-shift gradients: one Aer call
print("outputs", tuple(y.shape), "weight gradient", tuple(layer.weight.grad.shape))

# A tiny hybrid network: classical -> quantum -> classical, a few Adam steps on circles.
torch.manual_seed(0)
x, labels = load_circles(n_samples=200, seed=0).train.tensors
model = nn.Sequential(
    nn.Linear(2, 4), nn.Tanh(), hq.QuantumLayer(spec, backend="aer"), nn.Linear(4, 2)
)
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
for step in range(15):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), labels)
    loss.backward()
    optimizer.step()
    if step % 3 == 0 or step == 14:
        print(f"step {step:2d}  loss {loss.item():.4f}")
