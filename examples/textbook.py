"""
The Qiskit-textbook hybrid network on MNIST 0 vs 1
===================================================

The Qiskit textbook's hybrid classifier: a small CNN whose last layer is a one-qubit RY circuit
with a parameter-shift gradient, trained on MNIST zeros and ones. Here it runs on exact Aer for two
epochs on 200 images per class; ``epochs=10`` with all images (``limit_per_class=None``) is the
full run (about 20 s). ``backend="fake_manila"`` runs the same network on a noisy fake IBM device,
``backend="ibm:<name>"`` on IBM Quantum hardware.
"""

# %%
# Train
# -----
from _data import mnist_dir, run_folder, show_png

from hybridqml.workflows import TextbookConfig, train_textbook

data_dir = mnist_dir()
config = TextbookConfig(
    out_dir=run_folder("textbook"),
    data_dir=data_dir,
    dataset="mnist" if data_dir else "digits",
    epochs=2,
    limit_per_class=200,
    seed=0,
    backend="aer",
    progress=False,
)
result = train_textbook(config)
print(f"{result.data_source}: test accuracy {result.test_accuracy:.4f} on {result.n_test} images")

# %%
# The plots the run wrote
# -----------------------
# Every workflow writes its training curves and, for classifiers, a confusion matrix next to
# ``metrics.json`` and the checkpoint.
for plot in result.plots:
    show_png(plot)
