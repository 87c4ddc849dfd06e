"""Hardware runs: cost before running, retries, the job log
=========================================================

What a run on IBM hardware will send, estimated before anything is sent; a layer whose jobs
fail, expire and get retried on a fault-injecting stand-in of a device (local mode, no
network); and the job log that records every call. See docs/guides/ibm_hardware.md.

Run: python examples/hardware_run.py   (about 15 s of CPU; writes only into a temporary folder)
"""

# %%
# Cost before running: a dry run of the qnn workflow on a fake device, 3 epochs, 500 shots.
import tempfile
from pathlib import Path

import torch

import hybridqml as hq
from hybridqml.hardware._joblog import JobLog, read_job_log
from hybridqml.hardware._retry import RetryPolicy
from hybridqml.testing._faults import FaultInjectingSampler

estimate = hq.estimate_cost("qnn", n_samples=48, epochs=3, backend="fake_manila", shots=500)
print(estimate.format())

# %%
# Failures on schedule: attempt 1 fails with a retryable runtime error, attempt 3 finds the
# session expired (it is reopened). The values equal those of a run without failures.
sampler = FaultInjectingSampler("fake_manila", faults={1: "transient", 3: "expire"})
torch.manual_seed(0)
layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend=sampler, shots=1000, seed=7)
layer.engine.executor.retry_policy = RetryPolicy(sleep=lambda seconds: None)  # do not wait

folder = Path(tempfile.mkdtemp())
with JobLog(folder / "jobs.jsonl"), hq.Tracker() as tracker:
    x = torch.rand(4, 2, requires_grad=True)
    layer(x).sum().backward()
print(
    f"attempts {sampler.attempts}, jobs {sampler.submissions}, sessions reopened "
    f"{sampler.reopened}, executed shots {tracker.executed_shots:,}"
)

# %%
# The job log: a line per submission, per retried failure and per call.
for record in read_job_log(folder / "jobs.jsonl"):
    print(record["event"], record.get("job_id"), record.get("status", record.get("cause", "")))
