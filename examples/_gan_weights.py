"""Make ``examples/_weights/gan_digits_generator.pt``, the trained generator the GAN example shows.

The gallery example cannot train a GAN to recognizable digits within a docs build (150 epochs on
the 8x8 digits stand-in: about 25 minutes on a shared two-core machine), so the build loads the
generator this script trains once: :func:`hybridqml.workflows.train_gan` with :data:`CONFIG`, its
generator's weights stored as int8 with per-row scales (1.5 MB). Regenerate it with::

    python examples/_gan_weights.py                       # train, then store the generator
    python examples/_gan_weights.py --checkpoint RUN/checkpoint.pt  # store from a finished run

``tests/test_gallery_gan.py`` checks the stored generator: its samples cover at least 8 of the 10
digit classes according to a classifier trained on the same data.
"""

import argparse
import tempfile
from pathlib import Path

import torch

from hybridqml.workflows import EntropySettings, GANConfig, Generator, train_gan

WEIGHTS = Path(__file__).resolve().parent / "_weights" / "gan_digits_generator.pt"
CONFIG = {
    "dataset": "digits",
    "data_dir": None,
    "epochs": 150,
    "eval_samples": 500,
    "classifier_epochs": 3,
    "grid_every": 25,
    "entropy": EntropySettings(source="prng", mode="pure"),
    "progress": False,
}


def quantized(weights: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Matrices as int8 with one float32 scale per row (1.5 MB, not 3 MB), biases float16."""
    out: dict[str, dict[str, torch.Tensor]] = {"int8": {}, "scale": {}, "float16": {}}
    for name, tensor in weights.items():
        tensor = tensor.float()
        if tensor.dim() == 2:
            scale = tensor.abs().amax(dim=1).clamp_min(1e-12) / 127
            out["int8"][name] = torch.round(tensor / scale[:, None]).to(torch.int8)
            out["scale"][name] = scale
        else:
            out["float16"][name] = tensor.half()
    return out


def load_generator(path: Path = WEIGHTS) -> tuple[Generator, dict]:
    """The stored generator (float32, eval mode) and its metadata (latent size, training curve)."""
    stored = torch.load(path, map_location="cpu", weights_only=True)
    parts = stored["generator"]
    state = {k: v.float() for k, v in parts["float16"].items()}
    state.update({k: v.float() * parts["scale"][k][:, None] for k, v in parts["int8"].items()})
    generator = Generator(latent_dim=stored["meta"]["latent_dim"])
    generator.load_state_dict(state)
    return generator.eval(), stored["meta"]


def store(checkpoint: Path, out: Path = WEIGHTS) -> None:
    """Write a ``train_gan`` checkpoint's generator, quantized (:func:`quantized`), to ``out``."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    weights = quantized(state["objects"]["generator"])
    keys = ("epoch", "d_loss", "g_loss", "class_coverage", "frechet_distance")
    history = [{k: float(row[k]) for k in keys} for row in state["history"]]
    meta = {"latent_dim": state["config"]["latent_dim"], "epochs": state["epoch"]}
    meta["history"] = history
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"meta": meta, "generator": weights}, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) from epoch {state['epoch']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a finished train_gan run's checkpoint")
    args = parser.parse_args()
    if args.checkpoint is None:
        out_dir = Path(tempfile.mkdtemp(prefix="hybridqml-gan-weights-"))
        train_gan(GANConfig(out_dir=out_dir, **CONFIG))
        args.checkpoint = out_dir / "checkpoint.pt"
    store(args.checkpoint)


if __name__ == "__main__":
    main()
