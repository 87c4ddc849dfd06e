"""Noise-injection layers whose noise comes from an entropy source, in training mode only.

The QRNG-noise tutorial this replaces added noise in eval mode too and reused cached "quantum"
bytes. Here :class:`EntropyNoise` adds ``std * z`` to its input, with ``z`` standard normal drawn by
:func:`hybridqml.entropy.normal` from any object with ``read(n) -> bytes`` (an
:class:`~hybridqml.entropy.EntropyPool`, its expanded ``generator()``, or a workflow's entropy
stream). Every call reads fresh bytes: 4 per float32 value, 8 per float64 value, none reused. In
eval mode the layer is the identity unless ``noise_in_eval=True`` was asked for.

Example:
    >>> import torch
    >>> from hybridqml.entropy import EntropyPool, PRNGSource
    >>> layer = NoisyLinear(4, 2, source=EntropyPool(PRNGSource(seed=0)), std=0.1)
    >>> x = torch.ones(3, 4)
    >>> torch.equal(layer.eval()(x), layer(x))  # eval: deterministic
    True
"""

from __future__ import annotations

import math
from typing import Any, Final

import torch
from torch import nn

from hybridqml.entropy import normal
from hybridqml.exceptions import ConfigurationError

__all__ = ["DEFAULT_NOISE_STD", "EntropyNoise", "NoisyLinear"]

DEFAULT_NOISE_STD: Final[float] = 0.1
"""Standard deviation of the added Gaussian noise when none is given."""


def _check_std(std: float) -> float:
    if isinstance(std, bool) or not isinstance(std, int | float) or not math.isfinite(std):
        raise ConfigurationError(f"std must be a finite number >= 0, got {std!r}")
    if std < 0:
        raise ConfigurationError(f"std must be >= 0, got {std}")
    return float(std)


def _check_source(source: Any) -> Any:
    if source is not None and not callable(getattr(source, "read", None)):
        raise ConfigurationError(
            f"source must have a read(n) method (EntropyPool, generator), got {type(source)}"
        )
    return source


class EntropyNoise(nn.Module):
    """Add Gaussian noise ``std * z`` drawn from an entropy source (training mode only).

    Args:
        source: Anything with ``read(n) -> bytes``; may be ``None`` at construction and set later
            with :meth:`set_source` (a forward pass that needs noise then raises).
        std: Standard deviation of the noise; ``0`` disables it.
        noise_in_eval: Also add noise in eval mode (off by default: eval is deterministic).

    Raises:
        ConfigurationError: Negative or non-finite ``std``, or a source without ``read``.

    Example:
        >>> import torch
        >>> from hybridqml.entropy import EntropyPool, PRNGSource
        >>> noise = EntropyNoise(source=EntropyPool(PRNGSource(seed=1)), std=0.5)
        >>> x = torch.zeros(2, 3)
        >>> bool((noise(x) != 0).all()), torch.equal(noise.eval()(x), x)
        (True, True)
    """

    def __init__(
        self, *, source: Any = None, std: float = DEFAULT_NOISE_STD, noise_in_eval: bool = False
    ) -> None:
        super().__init__()
        self.source = _check_source(source)
        self.std = _check_std(std)
        self.noise_in_eval = bool(noise_in_eval)

    def set_source(self, source: Any) -> None:
        """Draw the noise from ``source`` from now on."""
        self.source = _check_source(source)

    @property
    def active(self) -> bool:
        """Whether a forward pass adds noise in the current mode."""
        return self.std > 0 and (self.training or self.noise_in_eval)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return ``inputs + std * z`` when active, else ``inputs`` unchanged.

        Raises:
            ConfigurationError: Noise is needed but no source was set.
        """
        if not self.active:
            return inputs
        if self.source is None:
            raise ConfigurationError("EntropyNoise has no entropy source: call set_source() first")
        dtype = inputs.dtype if inputs.dtype == torch.float64 else torch.float32
        z = normal(self.source, inputs.shape, dtype=dtype, device=inputs.device)
        return inputs + self.std * z.to(inputs.dtype)

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        name = getattr(self.source, "name", type(self.source).__name__)
        return f"std={self.std}, noise_in_eval={self.noise_in_eval}, source={name!r}"


class NoisyLinear(nn.Linear):
    """``nn.Linear`` that first adds entropy-source noise to its input (training mode only).

    Args:
        in_features: Input width.
        out_features: Output width.
        source: Entropy source (``read(n) -> bytes``), or ``None`` to set later.
        std: Standard deviation of the input noise.
        noise_in_eval: Also add noise in eval mode.
        bias: Learn an additive bias.

    Example:
        >>> import torch
        >>> from hybridqml.entropy import EntropyPool, OSSource
        >>> layer = NoisyLinear(3, 1, source=EntropyPool(OSSource()))
        >>> layer(torch.rand(5, 3)).shape
        torch.Size([5, 1])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        source: Any = None,
        std: float = DEFAULT_NOISE_STD,
        noise_in_eval: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.noise = EntropyNoise(source=source, std=std, noise_in_eval=noise_in_eval)

    def set_source(self, source: Any) -> None:
        """Draw the input noise from ``source`` from now on."""
        self.noise.set_source(source)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``linear(inputs + noise)``; the noise is added only when :attr:`noise` is active."""
        return super().forward(self.noise(inputs))
