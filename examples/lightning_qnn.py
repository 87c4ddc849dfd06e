"""
PyTorch Lightning: a quantum layer in a LightningModule, with DDP
=================================================================

A :class:`~hybridqml.QuantumLayer` is an ordinary ``nn.Module`` (one ``weight`` parameter, it
pickles and deep-copies), so Lightning trains it like any other layer: here a hybrid classifier
(linear -> 2-qubit circuit on Aer -> linear) learns two concentric circles with
``lightning.Trainer`` on the CPU, saves a checkpoint, and the checkpoint reloads to the same
outputs.

The same script trains with Lightning's DDP strategy on 2 processes (gloo):
``python examples/lightning_qnn.py --devices 2``. Each process gets half of every epoch's data
(Lightning's distributed sampler), gradients are averaged by DDP, and only rank 0 writes the
checkpoint. Install Lightning with ``pip install "hybridqml[lightning]"``.

Run: ``python examples/lightning_qnn.py [--devices 2] [--epochs 4]`` (seconds per epoch).
"""

# %%
# The LightningModule
# -------------------
import argparse
import json
import sys
from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader

import hybridqml as hq
from hybridqml.data import load_circles

N_QUBITS = 2


class HybridClassifier(L.LightningModule):
    """Linear -> quantum layer -> linear, trained with cross-entropy and Adam."""

    def __init__(self, lr: float = 0.05, backend: str = "aer") -> None:
        super().__init__()
        self.save_hyperparameters()  # the checkpoint rebuilds the model from these
        self.spec = hq.circuits.variational(N_QUBITS, layers=1)
        self.net = nn.Sequential(
            nn.Linear(2, N_QUBITS),
            nn.Tanh(),
            hq.QuantumLayer(self.spec, backend=backend),
            nn.Linear(N_QUBITS, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_epoch=True, sync_dist=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


# %%
# Training, checkpoint, reload
# ----------------------------
# ``Trainer(accelerator="cpu")`` with ``devices=1``; ``--devices 2`` selects
# ``strategy="ddp"`` (Lightning starts the second process by running this script again, the
# processes meet over gloo). Everything after ``fit`` runs on rank 0 only.


def train(*, devices: int = 1, epochs: int = 4, out: Path, backend: str = "aer") -> dict:
    """Train, save ``out/model.ckpt``, reload it; return what rank 0 saw (else ``{}``)."""
    L.seed_everything(0, verbose=False)
    data = load_circles(n_samples=96, seed=0)
    loader = DataLoader(data.train, batch_size=16, shuffle=True)
    model = HybridClassifier(backend=backend)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=out,
    )
    trainer.fit(model, loader)
    path = out / "model.ckpt"
    trainer.save_checkpoint(path)  # on every rank; rank 0 writes it
    if not trainer.is_global_zero:
        return {}
    x_test, y_test = data.test.tensors
    model.eval()
    reloaded = HybridClassifier.load_from_checkpoint(path, weights_only=True).eval()
    with torch.no_grad():
        trained, again = model(x_test), reloaded(x_test)
    accuracy = (again.argmax(1) == y_test).float().mean().item()
    print(f"world size {trainer.world_size}, {trainer.global_step} optimizer steps")
    print(f"reloaded checkpoint gives the same outputs: {torch.equal(trained, again)}")
    print(f"test accuracy {accuracy:.3f}")
    return {
        "world_size": trainer.world_size,
        "global_step": trainer.global_step,
        "n_train": len(data.train),
        "checkpoint": str(path),
        "outputs": trained.tolist(),
        "train_loss": trainer.callback_metrics["train_loss"].item(),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="hybrid classifier with Lightning")
    parser.add_argument("--devices", type=int, default=1, help="processes (2: DDP over gloo)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--backend", default="aer")
    parser.add_argument("--out", default=None, help="folder for the checkpoint (default: temp)")
    parser.add_argument("--report", default=None, help="write rank 0's results as JSON here")
    args = parser.parse_args(argv)
    if args.out is None:
        from _data import run_folder

        args.out = run_folder("lightning")
    found = train(
        devices=args.devices, epochs=args.epochs, out=Path(args.out), backend=args.backend
    )
    if found and args.report:
        Path(args.report).write_text(json.dumps(found))
    return found


if __name__ == "__main__":
    main(sys.argv[1:] if len(sys.argv) > 1 and sys.argv[1].startswith("--") else [])
