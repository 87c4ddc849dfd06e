"""Qiskit primitives and IBM Quantum Runtime: any Estimator/Sampler V2, any BackendV2, IBM devices.

* ``_builders`` -- the executor of each kind of spec (runtime
  Sampler or mitigating Estimator, a primitive used as given, ``BackendSamplerV2``);
* ``_plugin`` -- the registry entries (the ``primitives`` entry
  point).

The executors themselves are the core's (``hybridqml.execution._estimator_executor``,
``hybridqml.execution._sampler_executor``); the hardware operations they need (retries, the
job log, runtime sessions and options, QPU time) are :mod:`hybridqml.hardware`'s.
"""

__all__: list[str] = []
