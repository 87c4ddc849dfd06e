"""Hardware operations: what running on (simulated) devices needs beyond executing circuits.

Used by the backend families that run on devices (:mod:`hybridqml.backends.primitives`,
:mod:`hybridqml.backends.aer`, :mod:`hybridqml.backends.mixed`), never by the execution core:

* :mod:`~hybridqml.hardware.jobs` -- :data:`~hybridqml.hardware.jobs.RUNTIME_JOBS`, the job
  service the executors of those backends are given;
* :mod:`~hybridqml.hardware.retry` -- retries with backoff, reopened sessions, clear job
  failures (:class:`~hybridqml.hardware.retry.RetryPolicy`,
  :class:`~hybridqml.hardware.retry.JobRunner`);
* :mod:`~hybridqml.hardware.joblog` -- ``jobs.jsonl``: every call, pending jobs fetched by id;
* :mod:`~hybridqml.hardware.devices` -- fake IBM devices, IBM backends, runtime sessions;
* :mod:`~hybridqml.hardware.runtime_options` -- resilience level, twirling, dynamical
  decoupling;
* :mod:`~hybridqml.hardware.qpu_time` -- QPU seconds of a call from the device's durations.
"""

__all__: list[str] = []
