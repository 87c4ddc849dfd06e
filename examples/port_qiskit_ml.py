"""
Porting qiskit-machine-learning's "Torch Connector and Hybrid QNNs"
===================================================================

Parts 1 and 2 of qiskit-machine-learning's tutorial, written with hybridqml as a user coming
from it would: the classification with an ``EstimatorQNN`` (one ``Z...Z`` output) and with a
``SamplerQNN`` (parity of the measured bitstring), then the regression, each trained with
LBFGS as in the original (fine here: the backends are exact; see the porting guide on
optimizers under noise). Part 3 (a hybrid CNN on MNIST 0 vs 1) is closest to hybridqml's
``textbook`` workflow, which uses a one-qubit circuit where the tutorial uses two qubits.

Run: ``python examples/port_qiskit_ml.py`` (about 15 s; the figure goes to a temporary folder).
"""

# %%
# Data: 20 points in [-1, 1]^2, labelled by the sign of x0 + x1 (as in the tutorial)
# ----------------------------------------------------------------------------------
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; sphinx-gallery collects the figures itself
import matplotlib.pyplot as plt
import numpy as np
import torch
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.circuit.library import real_amplitudes, zz_feature_map

import hybridqml as hq

QUICK = os.environ.get("HYBRIDQML_EXAMPLES_QUICK") == "1"  # the test suite's small settings
MAX_ITER = 3 if QUICK else 20  # LBFGS iterations per step, torch's default

torch.manual_seed(42)
rng = np.random.default_rng(42)
X = 2 * rng.random((20, 2)) - 1
y01 = (X.sum(axis=1) >= 0).astype(int)
X_ = torch.tensor(X)  # float64 in, float64 out
y_ = torch.tensor(2.0 * y01 - 1.0).reshape(-1, 1)  # labels +-1 for the Z...Z output
y01_ = torch.tensor(y01)


def fit(model, loss_fn, target):
    """The tutorial's training: one LBFGS step (up to MAX_ITER iterations), loss printed."""
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=MAX_ITER)
    losses = []

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(X_), target)
        loss.backward()
        losses.append(loss.item())
        return loss

    optimizer.step(closure)
    return losses


# %%
# Part 1a: EstimatorQNN -> QuantumLayer with the Z...Z observable
# ---------------------------------------------------------------
# ``QNNCircuit(2)`` is ``zz_feature_map(2)`` then ``real_amplitudes(2, reps=3)``. Its
# ``EstimatorQNN`` has ONE output, ``<Z Z>``; a hybridqml layer would default to one ``<Z>`` per
# qubit, so the observable is given. ``initial_weights`` becomes ``init``.
spec = hq.circuits.from_qiskit(zz_feature_map(2), real_amplitudes(2, reps=3), observables="ZZ")
init = torch.tensor(0.1 * (2 * rng.random(spec.n_weights) - 1))
model1 = hq.QuantumLayer(spec, init=init)
losses1 = fit(model1, torch.nn.MSELoss(reduction="sum"), y_)
pred1 = (model1(X_).detach().numpy()[:, 0] >= 0).astype(int)
print(f"1a EstimatorQNN port: accuracy {np.mean(pred1 == y01):.2f}, loss {losses1[-1]:.3f}")

# %%
# Part 1b: SamplerQNN with a parity interpret -> SamplerLayer
# -----------------------------------------------------------
# ``interpret=parity, output_shape=2`` becomes ``interpret=hq.circuits.parity, output_size=2``:
# the outputs are the probabilities of even and odd parity, trained with cross-entropy.
spec2 = hq.circuits.from_qiskit(
    zz_feature_map(2), real_amplitudes(2, entanglement="linear", reps=1)
)
init2 = torch.tensor(0.1 * (2 * rng.random(spec2.n_weights) - 1))
model2 = hq.SamplerLayer(spec2, interpret=hq.circuits.parity, output_size=2, init=init2)


def cross_entropy(probs, target):
    return torch.nn.functional.nll_loss(torch.log(probs), target)


losses2 = fit(model2, cross_entropy, y01_)
pred2 = model2(X_).argmax(dim=1).numpy()
print(f"1b SamplerQNN port: accuracy {np.mean(pred2 == y01):.2f}, loss {losses2[-1]:.3f}")

# %%
# Part 2: regression of sin(x): feature map RY(x), ansatz RY(w), one Z output
# ---------------------------------------------------------------------------
# ``EstimatorQNN(circuit=qc, input_params=[x], weight_params=[w])``: on one qubit the default
# observables of both libraries agree (one ``<Z>`` = ``cos(x + w)``).
x_param, w_param = Parameter("x"), Parameter("w")
qc = QuantumCircuit(1)
qc.ry(x_param, 0)
qc.ry(w_param, 0)
init3 = torch.tensor(0.1 * (2 * rng.random(1) - 1))
model3 = hq.QuantumLayer(hq.ParameterizedCircuit(qc, [x_param], [w_param]), init=init3)
Xr = torch.tensor(2 * rng.random((20, 1)) - 1)
yr = torch.sin(Xr) + 0.1 * torch.tensor(2 * rng.random((20, 1)) - 1)
optimizer = torch.optim.LBFGS(model3.parameters(), max_iter=MAX_ITER)


def closure3():
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model3(Xr), yr, reduction="sum")
    loss.backward()
    return loss


optimizer.step(closure3)
print(f"2 regression: loss {closure3().item():.3f}")

# %%
# Plots: the classifications (misclassified points circled) and the regression
# ----------------------------------------------------------------------------
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, pred, title in ((axes[0], pred1, "1a EstimatorQNN"), (axes[1], pred2, "1b SamplerQNN")):
    for label, marker in ((1, "o"), (0, "s")):
        chosen = y01 == label
        ax.scatter(X[chosen, 0], X[chosen, 1], marker=marker, c="tab:blue" if label else "tab:red")
    wrong = pred != y01
    ax.scatter(X[wrong, 0], X[wrong, 1], s=200, facecolors="none", edgecolors="k")
    ax.plot([-1, 1], [1, -1], "--", color="gray")
    ax.set_title(f"{title} port")
grid = torch.linspace(-1, 1, 50, dtype=torch.float64).reshape(-1, 1)
axes[2].plot(Xr.numpy(), yr.numpy(), "bo", label="data")
axes[2].plot(grid.numpy(), model3(grid).detach().numpy(), "r-", label="hybridqml fit")
axes[2].legend()
axes[2].set_title("2 regression")
fig.tight_layout()
out = Path(tempfile.mkdtemp(prefix="hybridqml-port-qiskit-ml-")) / "port_qiskit_ml.png"
fig.savefig(out)
print("figure:", out)
