"""The Qiskit-textbook hybrid (CNN + 1-qubit RY layer) on MNIST 0 vs 1, from Python.

Run: python examples/textbook.py   (about 20 s; results in runs/textbook)
"""

from _data import mnist_dir

from hybridqml.workflows import TextbookConfig, train_textbook

data_dir = mnist_dir()
config = TextbookConfig(
    out_dir="runs/textbook",
    data_dir=data_dir,
    dataset="mnist" if data_dir else "digits",
    epochs=10,
    seed=0,
    backend="aer",  # or "fake_manila", or "ibm:<backend>" with an IBM Quantum account
)
result = train_textbook(config)
print(f"{result.data_source}: test accuracy {result.test_accuracy:.4f} on {result.n_test} images")
print("files:", result.metrics_path, *result.plots)
