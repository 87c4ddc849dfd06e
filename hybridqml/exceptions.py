"""The hybridqml exception tree.

Every error the library raises on purpose derives from :class:`HybridQMLError`, so callers can
catch the whole family with one ``except``. Errors about bad arguments also derive from
:class:`ValueError` so generic handlers keep working.

Tree::

    HybridQMLError
    ├── CircuitError (ValueError)         invalid circuit specification
    ├── InputError (ValueError)           bad tensors or arrays given to a layer
    ├── ConfigurationError (ValueError)   bad constructor or option values (shots <= 0, ...)
    ├── BackendError                      unknown backend, failed job, missing optional package
    ├── GradientError                     a gradient cannot be computed for this circuit
    ├── DataError                         missing or corrupt dataset
    └── EntropyError                      an entropy source failed
        ├── QRNGError                     HTTP QRNG service errors (auth, format, availability)
        └── HealthTestError               SP 800-90B health test failure

Third-party exceptions are translated at the boundary with ``raise ... from exc`` so the original
cause stays visible in the traceback.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CircuitError",
    "ConfigurationError",
    "DataError",
    "EntropyError",
    "GradientError",
    "HealthTestError",
    "HybridQMLError",
    "InputError",
    "QRNGError",
]


class HybridQMLError(Exception):
    """Base class of every error raised by hybridqml."""


class CircuitError(HybridQMLError, ValueError):
    """A circuit specification is invalid (unknown or missing parameters, wrong observables)."""


class InputError(HybridQMLError, ValueError):
    """Input data has the wrong shape, dtype or contains non-finite values."""


class ConfigurationError(HybridQMLError, ValueError):
    """An option or constructor argument has an invalid value."""


class BackendError(HybridQMLError):
    """A backend cannot be resolved, is missing an optional package, or a job failed."""


class GradientError(HybridQMLError):
    """A gradient cannot be computed (unsupported gate, non-differentiable expression)."""


class DataError(HybridQMLError):
    """A dataset is missing, unreadable or corrupt."""


class EntropyError(HybridQMLError):
    """An entropy source or pool failed to deliver random bytes."""


class QRNGError(EntropyError):
    """A QRNG HTTP service failed: authentication, availability, or malformed replies."""


class HealthTestError(EntropyError):
    """A NIST SP 800-90B health test failed; the pool stops delivering from that source."""
