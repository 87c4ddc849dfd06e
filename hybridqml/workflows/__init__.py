"""The workflows, one module each, usable from Python and from ``hybridqml train``.

* :mod:`~hybridqml.workflows.textbook`: the Qiskit-textbook CNN + 1-qubit hybrid for MNIST 0 vs 1;
* :mod:`~hybridqml.workflows.noisy_mlp`: an MNIST MLP with entropy-source noise injection;
* :mod:`~hybridqml.workflows.qnn`: a variational hybrid QNN vs a classical net on circles;
* :mod:`~hybridqml.workflows.gan`: an MLP GAN whose latent vectors come from an entropy pool
  (its quality metrics in :mod:`~hybridqml.workflows.gan_metrics`).

Each has a frozen ``<Name>Config`` extending :class:`~hybridqml.runs.RunConfig` and
``train_<name>(config) -> <Name>Result``: a small :class:`~hybridqml.workflows.trainer.Trainer`
subclass supplies the workflow's data, models and step, and the shared loop writes
``OUT/metrics.json``, PNG plots and a checkpoint (``resume=True`` continues exactly; it refuses
a checkpoint made with other settings, see :data:`~hybridqml.runs.RESUME_MUTABLE_FIELDS`
for the few that may change). Each module has a ``WORKFLOW`` descriptor
(:class:`~hybridqml.workflows.base.Workflow`) listed in :mod:`~hybridqml.workflows.registry`,
from which ``hybridqml train`` and ``hybridqml demo`` are generated; classifier workflows share
:mod:`~hybridqml.workflows.classifier`. The names below load their module on first access.

Example:
    >>> from hybridqml.workflows import TextbookConfig, train_textbook
    >>> cfg = TextbookConfig(out_dir="runs/textbook", data_dir="../shared/datasets")
    >>> train_textbook(cfg).test_accuracy  # doctest: +SKIP
    0.997
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module defining it (loaded on first access).
_NAMES = {
    **dict.fromkeys(("EntropySettings", "EntropyStream"), "hybridqml.entropy"),
    **dict.fromkeys(
        ("Discriminator", "GANConfig", "GANResult", "Generator", "train_gan"),
        "hybridqml.workflows.gan",
    ),
    **dict.fromkeys(
        ("NoisyMLP", "NoisyMLPConfig", "NoisyMLPResult", "train_noisy_mlp"),
        "hybridqml.workflows.noisy_mlp",
    ),
    **dict.fromkeys(
        ("ClassicalNet", "HybridQNN", "QNNConfig", "QNNResult", "train_qnn"),
        "hybridqml.workflows.qnn",
    ),
    **dict.fromkeys(
        ("TextbookConfig", "TextbookNet", "TextbookResult", "train_textbook"),
        "hybridqml.workflows.textbook",
    ),
    **dict.fromkeys(("Workflow", "Option"), "hybridqml.workflows.base"),
    **dict.fromkeys(("RunResult", "Trainer"), "hybridqml.workflows.trainer"),
    **dict.fromkeys(("get_workflow", "workflows", "estimate_cost"), "hybridqml.workflows.registry"),
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_NAMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
