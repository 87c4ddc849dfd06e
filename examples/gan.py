"""
An MNIST GAN with latent vectors from an entropy source
=======================================================

A GAN whose latent vectors come from an entropy pool (here Hadamard bits measured on Aer:
pseudo-random, labelled "simulated-quantum"). The source never falls back silently: if it cannot
deliver, the run stops with an ``EntropyError``, unless a fallback is named. Small settings: 2
epochs on 100 images per class, so the samples are still blurry; ``epochs=60`` on all images is
the full run (about 5 minutes on two cores).
"""

# %%
from _data import mnist_dir, run_folder, show_png

from hybridqml.workflows import EntropySettings, GANConfig, train_gan

data_dir = mnist_dir()
config = GANConfig(
    out_dir=run_folder("gan"),
    data_dir=data_dir,
    dataset="mnist" if data_dir else "digits",
    epochs=2,
    limit_per_class=100,
    eval_samples=500,
    classifier_epochs=1,
    entropy=EntropySettings(source="aer", mode="expanded"),
    progress=False,
)
result = train_gan(config)
last = result.history[-1]
print(f"d_loss {last['d_loss']:.3f}  g_loss {last['g_loss']:.3f}")
print(f"class coverage {result.class_coverage}/10, Frechet distance {result.frechet_distance:.1f}")
print("latents from", result.entropy["name"], f"({result.entropy['kind']})")

# %%
# Generated digits and losses
# ---------------------------
for plot in result.plots:
    show_png(plot)
