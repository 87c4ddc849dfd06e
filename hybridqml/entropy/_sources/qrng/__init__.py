"""Random bytes from HTTP quantum random number services (QRNG).

* :mod:`~hybridqml.entropy.sources.qrng.client`: :class:`QRNGSource`, the HTTP client;
* :mod:`~hybridqml.entropy.sources.qrng.providers`: the eaas and ANU request and reply formats;
* :mod:`~hybridqml.entropy.sources.qrng.retry`: the retry policy and which failures are retried;
* :mod:`~hybridqml.entropy.sources.qrng.replay`: the check that no reply repeats a recent one.
"""

from hybridqml.entropy.sources.qrng.client import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_SHORT_REPLIES,
    DEFAULT_TIMEOUT,
    LOOPBACK_HOSTS,
    TOKEN_ENV_VAR,
    QRNGSource,
)
from hybridqml.entropy.sources.qrng.providers import ANU_MAX_REQUEST_BYTES, PROVIDERS, Provider
from hybridqml.entropy.sources.qrng.replay import (
    DEFAULT_REPLAY_WINDOW,
    REPLAY_MIN_BYTES,
    ReplayCheck,
)
from hybridqml.entropy.sources.qrng.retry import (
    AUTH_STATUSES,
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_BACKOFF_JITTER,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_AFTER_MAX,
    RETRY_STATUSES,
)

__all__ = [
    "ANU_MAX_REQUEST_BYTES",
    "AUTH_STATUSES",
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_BACKOFF_JITTER",
    "DEFAULT_BACKOFF_MAX",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_SHORT_REPLIES",
    "DEFAULT_REPLAY_WINDOW",
    "DEFAULT_RETRY_AFTER_MAX",
    "DEFAULT_TIMEOUT",
    "LOOPBACK_HOSTS",
    "PROVIDERS",
    "REPLAY_MIN_BYTES",
    "RETRY_STATUSES",
    "TOKEN_ENV_VAR",
    "Provider",
    "QRNGSource",
    "ReplayCheck",
]
