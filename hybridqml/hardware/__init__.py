"""Hardware operations: what running on (simulated) devices needs beyond executing circuits.

Used by the backend families that run on devices (:mod:`hybridqml.backends.primitives`,
:mod:`hybridqml.backends.aer`, :mod:`hybridqml.backends.mixed`), never by the execution core:

* ``_jobs`` -- :data:`~hybridqml.hardware._jobs.RUNTIME_JOBS`, the job
  service the executors of those backends are given;
* ``_retry`` -- retries with backoff, reopened sessions, clear job
  failures (:class:`~hybridqml.hardware._retry.RetryPolicy`,
  :class:`~hybridqml.hardware._retry.JobRunner`);
* ``_joblog`` -- ``jobs.jsonl``: every call, pending jobs fetched by id;
* ``_devices`` -- fake IBM devices, IBM backends, runtime sessions;
* ``_runtime_options`` -- resilience level, twirling, dynamical
  decoupling;
* ``_qpu_time`` -- QPU seconds of a call from the device's durations.
"""

__all__: list[str] = []
