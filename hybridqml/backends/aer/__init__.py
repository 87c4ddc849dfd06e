"""Qiskit Aer, noiseless: the exact estimator, the Born sampler, and their executors.

* :class:`~hybridqml.backends.aer.estimator.AerExactEstimator` -- an Estimator V2 primitive on
  Aer's statevector that prepares each circuit once (exact expectation values).
* :class:`~hybridqml.backends.aer.born.AerBornSampler` -- a Sampler V2 primitive for noiseless
  Aer: exact Born probabilities from one statevector run, shots drawn from them.
* :mod:`~hybridqml.backends.aer.executors` -- which of them serves ``"aer"`` or an
  ``AerSimulator``; :mod:`~hybridqml.backends.aer.plugin` -- the registry entries (the ``aer``
  entry point).

Noisy Aer (noise models, fake devices) is the separate family :mod:`hybridqml.backends.mixed`.
"""

from hybridqml.backends.aer.born import AerBornSampler
from hybridqml.backends.aer.estimator import AerExactEstimator

__all__ = ["AerBornSampler", "AerExactEstimator"]
