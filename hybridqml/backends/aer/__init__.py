"""Qiskit Aer, noiseless: the exact estimator, the Born sampler, and their executors.

* :class:`~hybridqml.backends.aer.AerExactEstimator` -- an Estimator V2 primitive on
  Aer's statevector that prepares each circuit once (exact expectation values).
* :class:`~hybridqml.backends.aer.AerBornSampler` -- a Sampler V2 primitive for noiseless
  Aer: exact Born probabilities from one statevector run, shots drawn from them.
* ``_executors`` -- which of them serves ``"aer"`` or an
  ``AerSimulator``; ``_plugin`` -- the registry entries (the ``aer``
  entry point).

Noisy Aer (noise models, fake devices) is the separate family :mod:`hybridqml.backends.mixed`.
"""

from hybridqml.backends.aer._born import AerBornSampler
from hybridqml.backends.aer._estimator import AerExactEstimator

__all__ = ["AerBornSampler", "AerExactEstimator"]
