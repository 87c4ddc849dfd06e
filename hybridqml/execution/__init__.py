"""The execution core: the executor contract, declared capabilities, the backend registry.

Everything a backend plugs into, and nothing of any particular backend (import-linter forbids
this package to import :mod:`hybridqml.backends` or :mod:`hybridqml.hardware`):

* ``_executor`` -- :class:`Executor`, the contract with its template
  method (one primitive call per batch of bindings, checked, counted, split under the memory
  budget), :class:`NativeExecutor` (torch computes the gradients), :class:`BackendRequest`;
* ``_capabilities`` -- :class:`Capabilities`, what a backend declares
  (exact values, shots, noise, native gradients, probabilities, runtime options);
* ``_registry`` -- backends from the ``hybridqml.backends`` entry points,
  :func:`make_executor`, :func:`register_backend` / :func:`unregister_backend`;
* ``_estimator_executor``, ``_sampler_executor``,
  ``_probability_executor`` -- executors over any Qiskit Estimator or
  Sampler V2 primitive, built by ``_primitive_executors`` for the
  families that supply primitives, with ``_isa`` (transpiling, binding),
  ``_measurement`` (Pauli grouping, parities),
  ``_distribution`` (samplers that know their exact distribution) and
  ``_jobs`` (how calls reach a primitive);
* ``_memory`` -- memory budgets: how a large pass is split into calls;
* ``_tracking`` -- :class:`Tracker`: calls, evaluations, shots, dry runs.
"""

from hybridqml.execution._capabilities import Capabilities
from hybridqml.execution._executor import BackendRequest, Executor, NativeExecutor
from hybridqml.execution._registry import (
    BackendEntry,
    backend_capabilities,
    default_gradient,
    make_executor,
    native_executor,
    register_backend,
    registered_backends,
    unregister_backend,
)
from hybridqml.execution._tracking import Tracker, dry_run

__all__ = [
    "BackendEntry",
    "BackendRequest",
    "Capabilities",
    "Executor",
    "NativeExecutor",
    "Tracker",
    "backend_capabilities",
    "default_gradient",
    "dry_run",
    "make_executor",
    "native_executor",
    "register_backend",
    "registered_backends",
    "unregister_backend",
]
