"""Hybrid variational QNN vs a classical net of similar size on concentric circles.

Run: python examples/qnn.py   (about 35 s; results in runs/qnn)
"""

from hybridqml.workflows import QNNConfig, train_qnn

result = train_qnn(QNNConfig(out_dir="runs/qnn", epochs=20, n_qubits=4, layers=2, backend="aer"))
print(
    f"hybrid {result.hybrid_test_accuracy:.4f} ({result.hybrid_parameters} parameters) vs "
    f"classical {result.classical_test_accuracy:.4f} ({result.classical_parameters} parameters)"
)
print("decision boundaries:", *[p for p in result.plots if "boundary" in p.name])
