"""Test doubles wrapping real primitives: they count calls and delegate."""

from __future__ import annotations

from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2


class CountingEstimator(BaseEstimatorV2):
    """Delegates to another estimator and records every ``run`` call and its PUB shapes."""

    def __init__(self, inner: BaseEstimatorV2) -> None:
        self.inner = inner
        self.calls: list[list[tuple]] = []

    def run(self, pubs, *, precision=None):
        pubs = list(pubs)
        self.calls.append([tuple(p[2].shape) if len(p) > 2 else () for p in pubs])
        return self.inner.run(pubs, precision=precision)


class CountingSampler(BaseSamplerV2):
    """Delegates to another sampler and records every ``run`` call."""

    def __init__(self, inner: BaseSamplerV2) -> None:
        self.inner = inner
        self.calls: list[int] = []
        self._backend = getattr(inner, "_backend", None)

    def run(self, pubs, *, shots=None):
        pubs = list(pubs)
        self.calls.append(len(pubs))
        return self.inner.run(pubs, shots=shots)
