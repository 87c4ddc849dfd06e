"""Backend families: where circuits run, each an independent package found through entry points.

* :mod:`~hybridqml.backends.primitives` -- any Qiskit Estimator/Sampler V2 primitive, any
  ``BackendV2``, IBM Quantum Runtime (``"ibm:<name>"``, sessions, ``IBMBackend``);
* :mod:`~hybridqml.backends.aer` -- noiseless Qiskit Aer (``"aer"``): exact estimator, Born
  sampler;
* :mod:`~hybridqml.backends.mixed` -- the noisy simulator: exact mixed states under Aer noise
  models (``"fake_<device>"``, ``"aer"`` with a ``noise_model``);
* :mod:`~hybridqml.backends.torchsim` -- the torch-native statevector simulator (``"torch"``).

No family imports another (import-linter's independence contract): what two of them share is
the execution core's (:mod:`hybridqml.execution`) or the hardware room's
(:mod:`hybridqml.hardware`). Each declares its registry entries in a ``plugin`` module, named
by an entry point of the group ``hybridqml.backends`` in ``pyproject.toml``, exactly as a
third-party backend does (see ``hybridqml.execution._plugins``).
"""

__all__: list[str] = []
