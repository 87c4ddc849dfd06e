"""
A variational QNN against a classical baseline
==============================================

A hybrid network (classical layer, a 4-qubit variational circuit, classical head) and a classical
network of similar size, trained on the same concentric circles. The decision boundaries show what
each learned. Small settings: 6 epochs; ``epochs=20`` is the default run (about 35 s).
"""

# %%
from _data import run_folder, show_png

from hybridqml.workflows import QNNConfig, train_qnn

config = QNNConfig(
    out_dir=run_folder("qnn"), epochs=6, n_qubits=4, layers=2, backend="aer", progress=False
)
result = train_qnn(config)
print(
    f"hybrid {result.hybrid_test_accuracy:.4f} ({result.hybrid_parameters} parameters) vs "
    f"classical {result.classical_test_accuracy:.4f} ({result.classical_parameters} parameters)"
)

# %%
# Decision boundaries and training curves
# ---------------------------------------
for plot in result.plots:
    show_png(plot)
