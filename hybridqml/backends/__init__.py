"""Backends: where circuits run. Every backend is an executor built from the registry.

* :mod:`~hybridqml.backends.base` -- the :class:`Executor` contract (one primitive call per batch
  of bindings) and :class:`NativeExecutor` (torch computes the gradients).
* :mod:`~hybridqml.backends.memory` -- memory budgets: how a large pass is split into calls.
* :mod:`~hybridqml.backends.registry` -- :func:`make_executor`: backend spec -> executor, the
  only place a backend name is interpreted; :func:`register_backend` adds one.
* :mod:`~hybridqml.backends.qiskit` -- executors over Qiskit Estimator/Sampler V2 primitives,
  with :mod:`~hybridqml.backends.measurement` (Pauli grouping, parities).
* :mod:`~hybridqml.backends.devices` -- fake IBM devices, IBM backends, runtime sessions.
* :mod:`~hybridqml.backends.aer` -- the exact Aer estimator and the Born sampler.
* :mod:`~hybridqml.backends.torchsim` -- the torch-native statevector simulator.
* :mod:`~hybridqml.backends.tracking` -- counts primitive calls, evaluations and shots
  (and dry runs: count without sending).
* :mod:`~hybridqml.backends.resilience` -- retries with backoff, reopened sessions, clear job
  failures; :mod:`~hybridqml.backends.joblog` -- ``jobs.jsonl``, pending jobs fetched by id;
  :mod:`~hybridqml.backends.cost` -- QPU time from gate durations;
  :mod:`~hybridqml.backends.runtime_options` -- resilience level, twirling, dynamical
  decoupling; :mod:`~hybridqml.backends.faults` -- a fault-injecting runtime stand-in.
"""

from hybridqml.backends.base import Executor, NativeExecutor
from hybridqml.backends.registry import (
    BackendEntry,
    BackendRequest,
    default_gradient,
    make_executor,
    native_executor,
    register_backend,
    registered_backends,
)
from hybridqml.backends.tracking import Tracker

__all__ = [
    "BackendEntry",
    "BackendRequest",
    "Executor",
    "NativeExecutor",
    "Tracker",
    "default_gradient",
    "make_executor",
    "native_executor",
    "register_backend",
    "registered_backends",
]
