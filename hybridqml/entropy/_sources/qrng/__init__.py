"""Random bytes from HTTP quantum random number services (QRNG), and the ``qrng`` entry.

* ``_sources.qrng.client``: ``QRNGSource``, the HTTP client;
* ``_sources.qrng.providers``: the eaas and ANU request and reply formats;
* ``_sources.qrng.retry``: the retry policy and which failures are retried;
* ``_sources.qrng.replay``: the check that no reply repeats a recent one.
"""

from __future__ import annotations

from typing import Any

from hybridqml.entropy._registry import SourceEntry
from hybridqml.entropy._sources.qrng.client import TOKEN_ENV_VAR, QRNGSource

__all__ = ["QRNG"]


def _qrng(settings: Any, *, name: str, seed: int | None) -> QRNGSource:
    """A client for ``settings.qrng_url``; unset tuning keeps the client's defaults."""
    tuning = {
        "max_retries": settings.qrng_retries,
        "timeout": settings.qrng_timeout,
        "backoff_factor": settings.qrng_backoff_factor,
    }
    return QRNGSource(
        settings.qrng_url,
        provider=settings.qrng_provider,
        **{key: value for key, value in tuning.items() if value is not None},
    )


QRNG = SourceEntry(
    factory=_qrng,
    help=f"an HTTP QRNG service (token from ${TOKEN_ENV_VAR})",
    required=("qrng_url",),
)
"""The ``qrng`` source: needs ``qrng_url``; the token comes from the environment only."""
