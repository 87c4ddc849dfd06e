"""
An MNIST classifier with entropy-source noise
=============================================

A multilayer perceptron whose linear layers add noise drawn from an entropy source while
training. Here the bits are Hadamard-gate measurements on Aer, which are **pseudo-random**
(simulated quantum, labelled as such in ``metrics.json``), expanded by a seeded generator. A real
QRNG is ``source="qrng"`` with ``qrng_url=...``. Small settings: 2 epochs on 300 images per
class; ``epochs=30`` on all images is the full run (about 40 s).
"""

# %%
from _data import mnist_dir, run_folder, show_png

from hybridqml.workflows import EntropySettings, NoisyMLPConfig, train_noisy_mlp

data_dir = mnist_dir()
config = NoisyMLPConfig(
    out_dir=run_folder("noisy-mlp"),
    data_dir=data_dir,
    dataset="mnist" if data_dir else "digits",
    epochs=2,
    limit_per_class=300,
    noise_std=0.1,
    entropy=EntropySettings(source="aer", mode="expanded"),
    progress=False,
)
result = train_noisy_mlp(config)
print(f"test accuracy {result.test_accuracy:.4f} (last epoch)")
print("noise bytes:", result.entropy["name"], result.entropy["kind"], result.entropy["mode"])

# %%
# Training curves and the confusion matrix
# ----------------------------------------
for plot in result.plots:
    show_png(plot)
