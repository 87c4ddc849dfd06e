"""The execution core: the executor contract, declared capabilities, the backend registry.

Everything a backend plugs into, and nothing of any particular backend (import-linter forbids
this package to import :mod:`hybridqml.backends` or :mod:`hybridqml.hardware`):

* :mod:`~hybridqml.execution.executor` -- :class:`Executor`, the contract with its template
  method (one primitive call per batch of bindings, checked, counted, split under the memory
  budget), :class:`NativeExecutor` (torch computes the gradients), :class:`BackendRequest`;
* :mod:`~hybridqml.execution.capabilities` -- :class:`Capabilities`, what a backend declares
  (exact values, shots, noise, native gradients, probabilities, runtime options);
* :mod:`~hybridqml.execution.registry` -- backends from the ``hybridqml.backends`` entry points,
  :func:`make_executor`, :func:`register_backend` / :func:`unregister_backend`;
* :mod:`~hybridqml.execution.estimator_executor`, :mod:`~hybridqml.execution.sampler_executor`,
  :mod:`~hybridqml.execution.probability_executor` -- executors over any Qiskit Estimator or
  Sampler V2 primitive, built by :mod:`~hybridqml.execution.primitive_executors` for the
  families that supply primitives, with :mod:`~hybridqml.execution.isa` (transpiling, binding),
  :mod:`~hybridqml.execution.measurement` (Pauli grouping, parities),
  :mod:`~hybridqml.execution.distribution` (samplers that know their exact distribution) and
  :mod:`~hybridqml.execution.jobs` (how calls reach a primitive);
* :mod:`~hybridqml.execution.memory` -- memory budgets: how a large pass is split into calls;
* :mod:`~hybridqml.execution.tracking` -- :class:`Tracker`: calls, evaluations, shots, dry runs.
"""

from hybridqml.execution.capabilities import Capabilities
from hybridqml.execution.executor import BackendRequest, Executor, NativeExecutor
from hybridqml.execution.registry import (
    BackendEntry,
    backend_capabilities,
    default_gradient,
    make_executor,
    native_executor,
    register_backend,
    registered_backends,
    unregister_backend,
)
from hybridqml.execution.tracking import Tracker, dry_run

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
