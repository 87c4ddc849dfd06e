"""
An MNIST GAN with latent vectors from an entropy source
=======================================================

A GAN whose latent vectors come from an entropy pool (here Hadamard bits measured on Aer:
pseudo-random, labelled "simulated-quantum"). The source never falls back silently: if it cannot
deliver, the run stops with an ``EntropyError``, unless a fallback is named.

A docs build has time for 2 epochs, which teach the generator nothing yet (its samples are
noise), so the pictures below come from the same workflow trained for 150 epochs on the 8x8
digits stand-in, whose generator ``examples/_gan_weights.py`` stored once (the command that
remakes it is in that file; about 25 minutes on a shared two-core machine).
"""

# %%
# A short training run
# --------------------
# The whole workflow in one call: a quality classifier, then generator and discriminator in
# turns, with every latent vector drawn from the entropy pool.

import matplotlib.pyplot as plt
import numpy as np
import torch
from _data import mnist_dir, run_folder
from _gan_weights import load_generator
from sklearn.linear_model import LogisticRegression

from hybridqml.data import load_image_split
from hybridqml.entropy import AerHadamardSource, EntropyPool, normal
from hybridqml.plotting import save_image_grid
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
print(f"after 2 epochs: d_loss {last['d_loss']:.3f}  g_loss {last['g_loss']:.3f}")
print(f"class coverage {result.class_coverage}/10, Frechet distance {result.frechet_distance:.1f}")
print("latents from", result.entropy["name"], f"({result.entropy['kind']})")

# %%
# Digits from the generator trained for 150 epochs
# ------------------------------------------------
# The stored generator (int8 weights with per-row scales) draws 64 digits from latents of an
# Aer Hadamard pool.
generator, meta = load_generator()

pool = EntropyPool(AerHadamardSource(seed=7))
z = normal(pool, (500, meta["latent_dim"]))
with torch.no_grad():
    samples = generator(z)
grid = save_image_grid(samples[:64], run_folder("gan-trained") / "digits.png", nrow=8)
figure, axes = plt.subplots(figsize=(5.5, 5.8))
axes.imshow(plt.imread(grid))
axes.set_axis_off()
axes.set_title(f"64 samples after {meta['epochs']} epochs (latents from Aer)")

# %%
# Are they digits? An independent judge
# -------------------------------------
# A logistic regression trained on the same images (4x4-pooled to 7x7, about the 8x8 digits'
# own detail) labels the 500 samples; a class is covered when at least 1% of the samples are
# confidently (p >= 0.5) of it. The same check runs in the tests (``tests/test_gallery_gan.py``).


def pooled(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(images), -1)


split = load_image_split(dataset="digits", data_dir=None)
x, y = (t.numpy() for t in split.train.tensors)
judge = LogisticRegression(max_iter=200).fit(pooled(x), y)
x_test, y_test = (t.numpy() for t in split.test.tensors)
print(f"judge's test accuracy on real digits: {judge.score(pooled(x_test), y_test):.3f}")
proba = judge.predict_proba(pooled((samples.numpy() + 1) / 2))
confident = proba.max(axis=1) >= 0.5
counts = np.bincount(proba.argmax(axis=1)[confident], minlength=10)
coverage = int((counts >= 0.01 * len(samples)).sum())
print(f"class coverage of the generated digits: {coverage}/10; per class {counts.tolist()}")
assert coverage >= 8, "the stored generator no longer draws recognizable digits"

# %%
# How coverage grew during the 150 epochs
# ---------------------------------------
# The workflow's own per-epoch quality numbers (its CNN classifier), stored with the weights:
# after 2 epochs one class, from about epoch 75 on all ten.
epochs = [row["epoch"] for row in meta["history"]]
figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
left.plot(epochs, [row["class_coverage"] for row in meta["history"]])
left.set(xlabel="epoch", ylabel="classes covered (of 10)", title="Class coverage")
right.plot(epochs, [row["frechet_distance"] for row in meta["history"]])
right.set(xlabel="epoch", ylabel="Frechet distance", yscale="log", title="Frechet distance")
figure.tight_layout()
