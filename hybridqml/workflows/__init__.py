"""The workflows, one module each, usable from Python and from ``hybridqml train``.

* ``_textbook``: the Qiskit-textbook CNN + 1-qubit hybrid for MNIST 0 vs 1;
* ``_noisy_mlp``: an MNIST MLP with entropy-source noise injection;
* ``_qnn``: a variational hybrid QNN vs a classical net on circles;
* ``_gan``: an MLP GAN whose latent vectors come from an entropy pool
  (its quality metrics in ``_gan_metrics``).

Each has a frozen ``<Name>Config`` extending :class:`~hybridqml.runs.RunConfig` and
``train_<name>(config) -> <Name>Result``: a small :class:`~hybridqml.workflows.Trainer`
subclass supplies the workflow's data, models and step, and the shared loop writes
``OUT/metrics.json``, PNG plots and a checkpoint (``resume=True`` continues exactly; it refuses
a checkpoint made with other settings, see :data:`~hybridqml.runs.RESUME_MUTABLE_FIELDS`
for the few that may change). Each module has a ``WORKFLOW`` descriptor
(:class:`~hybridqml.workflows.Workflow`) listed in ``_registry``,
from which ``hybridqml train`` and ``hybridqml demo`` are generated; classifier workflows share
``_classifier``. The names below load their module on first access.

Example:
    >>> from hybridqml.workflows import TextbookConfig, train_textbook
    >>> cfg = TextbookConfig(out_dir="runs/textbook", data_dir="../shared/datasets")
    >>> train_textbook(cfg).test_accuracy  # doctest: +SKIP
    0.997
"""

from __future__ import annotations

from hybridqml._lazy import attach

#: Public name -> the module defining it (loaded on first access).
_NAMES = {
    **dict.fromkeys(("EntropySettings", "EntropyStream"), "hybridqml.entropy"),
    **dict.fromkeys(
        ("Discriminator", "GANConfig", "GANResult", "Generator", "train_gan"),
        "hybridqml.workflows._gan",
    ),
    **dict.fromkeys(
        ("NoisyMLP", "NoisyMLPConfig", "NoisyMLPResult", "train_noisy_mlp"),
        "hybridqml.workflows._noisy_mlp",
    ),
    **dict.fromkeys(
        ("ClassicalNet", "HybridQNN", "QNNConfig", "QNNResult", "train_qnn"),
        "hybridqml.workflows._qnn",
    ),
    **dict.fromkeys(
        ("TextbookConfig", "TextbookNet", "TextbookResult", "train_textbook"),
        "hybridqml.workflows._textbook",
    ),
    **dict.fromkeys(("Workflow", "Option"), "hybridqml.workflows._base"),
    **dict.fromkeys(("RunResult", "Trainer"), "hybridqml.workflows._trainer"),
    **dict.fromkeys(
        ("get_workflow", "workflows", "estimate_cost"), "hybridqml.workflows._registry"
    ),
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = attach(__name__, _NAMES)
