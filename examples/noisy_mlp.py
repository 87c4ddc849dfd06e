"""The MNIST MLP with noise from an entropy source injected into every linear layer (training only).

Run: python examples/noisy_mlp.py   (about 40 s; results in runs/noisy-mlp)
"""

from _data import mnist_dir

from hybridqml.workflows import EntropySettings, NoisyMLPConfig, train_noisy_mlp

data_dir = mnist_dir()
config = NoisyMLPConfig(
    out_dir="runs/noisy-mlp",
    data_dir=data_dir,
    dataset="mnist" if data_dir else "digits",
    epochs=30,
    noise_std=0.1,
    # Hadamard bits measured on Aer (simulated quantum), expanded by a seeded generator.
    # Use source="qrng", qrng_url=... (token in $HYBRIDQML_QRNG_TOKEN) for a real QRNG.
    entropy=EntropySettings(source="aer", mode="expanded"),
)
result = train_noisy_mlp(config)
print(f"test accuracy {result.test_accuracy:.4f} (last epoch)")
print(f"test accuracy {result.selected_test_accuracy:.4f} (epoch chosen on validation, best.pt)")
print("noise bytes:", result.entropy["name"], result.entropy["kind"], result.entropy["mode"])
