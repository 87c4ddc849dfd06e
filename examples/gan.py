"""The MNIST GAN whose latent vectors are drawn from an entropy pool.

Run: python examples/gan.py   (about 5 min for 60 epochs on 2 CPU cores; results in runs/gan)
"""

from _data import mnist_dir

from hybridqml.workflows import EntropySettings, GANConfig, train_gan

data_dir = mnist_dir()
config = GANConfig(
    out_dir="runs/gan",
    data_dir=data_dir,
    dataset="mnist" if data_dir else "digits",
    epochs=60,
    entropy=EntropySettings(source="aer", mode="expanded"),  # never falls back silently
)
result = train_gan(config)
last = result.history[-1]
print(f"d_loss {last['d_loss']:.3f}  g_loss {last['g_loss']:.3f}")
print(f"class coverage {result.class_coverage}/10, Frechet distance {result.frechet_distance:.1f}")
print("latents from", result.entropy["name"], f"({result.entropy['kind']})")
print("samples:", result.out_dir / "samples.png")
