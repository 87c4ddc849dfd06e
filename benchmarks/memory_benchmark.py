"""Memory benchmark: peak RSS and time of an Aer parameter-shift backward pass vs batch size.

``QuantumLayer(circuits.variational(10, 2), backend="aer")``, exact, backward with respect to
inputs and weights: B x 2 x (10 inputs + 20 weights) shifted bindings. Two settings per batch:

* ``unchunked``: ``backend_options={"max_memory_bytes": 2**62}``, one Aer call per pass (the
  behaviour before issue 14: memory grows with the batch, ~35 KiB per binding at 10 qubits);
* ``chunked``: the default budget
  (:data:`hybridqml.execution._memory.DEFAULT_MAX_MEMORY_BYTES`): the pass is split into the
  fewest calls under it.

Each (batch, setting) runs in its own subprocess, so its peak resident set size is its own
(``ru_maxrss`` of the child from ``os.wait4``, which includes the ~0.7 GB of importing torch and
Qiskit; the "before backward" column is the RSS after the forward pass). Time is the median
wall time of the backward pass over ``--repeats`` runs in that subprocess (after one warm-up
forward + backward at batch 8). Ratios compare the two settings measured in the same run.

Usage:
    python benchmarks/memory_benchmark.py [--quick] [--batches 256 1024 4096] [--repeats 3]
        [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import _common

N_QUBITS = 10
LAYERS = 2
UNCHUNKED = 2**62
SETTINGS = {"unchunked": UNCHUNKED, "chunked": None}


def worker(batch: int, budget: int | None, repeats: int) -> dict:
    """Run in the child: time ``repeats`` backward passes, report times and call counts."""
    import resource

    import torch

    import hybridqml as hq

    options = {} if budget is None else {"max_memory_bytes": budget}
    layer = hq.QuantumLayer(
        hq.circuits.variational(N_QUBITS, LAYERS), backend="aer", backend_options=options
    )
    torch.manual_seed(0)
    layer(torch.rand(8, N_QUBITS, requires_grad=True)).sum().backward()  # warm-up
    times, calls = [], []
    rss_before = 0
    for _ in range(repeats):
        x = torch.rand(batch, N_QUBITS, requires_grad=True)
        out = layer(x)
        if not times:  # the peak so far, before the first backward pass
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        executor = layer.engine.executor
        before = executor.calls
        start = time.perf_counter()
        out.sum().backward()
        times.append(time.perf_counter() - start)
        calls.append(executor.calls - before)
    return {
        "times": times,
        "backward_calls": calls[0],
        "bindings": batch * 2 * (N_QUBITS + layer.spec.n_weights),
        "rss_before_backward_kib": rss_before,
    }


def measure(batch: int, budget: int | None, repeats: int) -> dict:
    """Run :func:`worker` in a subprocess; add its peak RSS (``os.wait4``)."""
    cmd = [sys.executable, __file__, "--worker", str(batch), str(budget or 0), str(repeats)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.stdout.close()
    if status != 0:
        raise RuntimeError(f"worker failed for batch {batch}, budget {budget}: status {status}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux: KiB
    result["median_s"] = statistics.median(result["times"])
    return result


def plot(batches: list[int], results: dict, path: str) -> None:
    """Peak RSS and backward time against the batch, both settings."""
    fig, (mem_ax, time_ax) = _common.new_figure(2)
    for name in SETTINGS:
        rows = [results[(b, name)] for b in batches]
        mem_ax.plot(batches, [r["peak_rss_bytes"] / 2**30 for r in rows], "o-", label=name)
        time_ax.plot(batches, [r["median_s"] for r in rows], "o-", label=name)
    for ax, label in ((mem_ax, "peak RSS (GiB)"), (time_ax, "backward time (s)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch")
        ax.set_ylabel(label)
        ax.legend()
    _common.save_figure(fig, path)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        batch, budget, repeats = (int(a) for a in sys.argv[2:5])
        print(json.dumps(worker(batch, budget or None, repeats)))
        return
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    if args.quick:
        args.batches, args.repeats = [16, 128], 1
    from hybridqml.execution._memory import DEFAULT_MAX_MEMORY_BYTES, human_bytes

    meta = _common.machine_metadata()
    results = {}
    rows = []
    for batch in args.batches:
        for name, budget in SETTINGS.items():
            results[(batch, name)] = measure(batch, budget, args.repeats)
        base, new = results[(batch, "unchunked")], results[(batch, "chunked")]
        rows.append(
            [
                batch,
                base["bindings"],
                f"{human_bytes(base['peak_rss_bytes'])}",
                f"{human_bytes(new['peak_rss_bytes'])} ({new['backward_calls']} calls)",
                f"{new['peak_rss_bytes'] / base['peak_rss_bytes']:.2f}",
                f"{base['median_s']:.2f}",
                f"{new['median_s']:.2f}",
                f"{new['median_s'] / base['median_s']:.2f}",
                human_bytes(new["rss_before_backward_kib"] * 1024),
            ]
        )
    report = "\n".join(
        [
            f"## Aer backward memory: variational({N_QUBITS}, {LAYERS}), exact, "
            f"parameter shift (inputs and weights)",
            "",
            _common.metadata_line(meta),
            "",
            f"Default budget {human_bytes(DEFAULT_MAX_MEMORY_BYTES)} per call; median of "
            f"{args.repeats} backward passes; peak RSS of a subprocess per configuration.",
            "",
            _common.markdown_table(
                [
                    "batch",
                    "bindings",
                    "peak RSS unchunked",
                    "peak RSS chunked",
                    "RSS ratio",
                    "time unchunked (s)",
                    "time chunked (s)",
                    "time ratio",
                    "RSS before backward",
                ],
                rows,
            ),
        ]
    )
    payload = {
        "metadata": meta,
        "results": [
            {"batch": b, "setting": s, **{k: v for k, v in r.items()}}
            for (b, s), r in results.items()
        ],
    }
    _common.emit(args, report, payload)
    if args.plot:
        plot(args.batches, results, args.plot)


if __name__ == "__main__":
    main()
