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

Example:
    >>> from hybridqml.hardware import RetryPolicy, fake_device
    >>> fake_device("fake_manila").num_qubits
    5
"""

from hybridqml.hardware._devices import device_noise_model, fake_device, fake_device_names
from hybridqml.hardware._joblog import JOBS_NAME, job_totals, pending_jobs, read_job_log
from hybridqml.hardware._retry import DEFAULT_RETRY_POLICY, RetryPolicy
from hybridqml.hardware._runtime_options import RuntimeOptions

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "JOBS_NAME",
    "RetryPolicy",
    "RuntimeOptions",
    "device_noise_model",
    "fake_device",
    "fake_device_names",
    "job_totals",
    "pending_jobs",
    "read_job_log",
]
