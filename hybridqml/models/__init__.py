"""The four workflows, one module each, usable from Python and from ``hybridqml train``.

* :mod:`~hybridqml.models.textbook`: the Qiskit-textbook CNN + 1-qubit hybrid for MNIST 0 vs 1;
* :mod:`~hybridqml.models.noisy_mlp`: an MNIST MLP with entropy-source noise injection;
* :mod:`~hybridqml.models.qnn`: a variational hybrid QNN vs a classical net on circles;
* :mod:`~hybridqml.models.gan`: an MLP GAN whose latent vectors come from an entropy pool.

Each has a frozen ``<Name>Config`` and ``train_<name>(config) -> <Name>Result`` that writes
``OUT/metrics.json``, PNG plots and a checkpoint (``resume=True`` continues exactly; it refuses
a checkpoint made with other settings, see :data:`~hybridqml.models.common.RESUME_MUTABLE_FIELDS`
for the few that may change).

Example:
    >>> from hybridqml.models import TextbookConfig, train_textbook
    >>> cfg = TextbookConfig(out_dir="runs/textbook", data_dir="../shared/datasets")
    >>> train_textbook(cfg).test_accuracy  # doctest: +SKIP
    0.997
"""

from hybridqml.models.common import EntropySettings, EntropyStream
from hybridqml.models.gan import Discriminator, GANConfig, GANResult, Generator, train_gan
from hybridqml.models.noisy_mlp import NoisyMLP, NoisyMLPConfig, NoisyMLPResult, train_noisy_mlp
from hybridqml.models.qnn import ClassicalNet, HybridQNN, QNNConfig, QNNResult, train_qnn
from hybridqml.models.textbook import TextbookConfig, TextbookNet, TextbookResult, train_textbook

__all__ = [
    "ClassicalNet",
    "Discriminator",
    "EntropySettings",
    "EntropyStream",
    "GANConfig",
    "GANResult",
    "Generator",
    "HybridQNN",
    "NoisyMLP",
    "NoisyMLPConfig",
    "NoisyMLPResult",
    "QNNConfig",
    "QNNResult",
    "TextbookConfig",
    "TextbookNet",
    "TextbookResult",
    "train_gan",
    "train_noisy_mlp",
    "train_qnn",
    "train_textbook",
]
