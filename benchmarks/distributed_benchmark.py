"""Data-parallel speed-up: the qnn workflow on 1 vs 2 ranks (torch.distributed, gloo).

For each backend (exact Aer; a fake IBM device, exact noisy simulation) and each seed, the qnn
workflow trains on 1 rank and on 2 ranks launched by ``torch.distributed.run`` on 127.0.0.1. Each
rank gets ``OMP_NUM_THREADS = cores // ranks`` (torch's and Aer's thread pools then share the cores
instead of oversubscribing them); a third run, 1 rank on 1 thread, shows how much of the
one-process run is already parallel inside those thread pools. The time per epoch is the wall time
of the epoch loop (:func:`~hybridqml.training.run_epochs`: training steps plus the per-epoch test
evaluation) divided by the epochs, measured on rank 0 from a barrier that all ranks reach first
(without it, rank 0's clock would also run while a slower-starting rank finishes its imports);
process start-up, data and plots are left out. Rank 0 also records where its epoch goes: seconds
inside primitive calls (``Executor.run``, the quantum part) and inside ``torch.distributed``
collectives (gradient and metric sums and the failure check before each), with their number, and
the time of one ``all_reduce`` of 40 numbers between the ranks back to back (measured before
training). The speed-up is the ratio of the medians over the seeds; the final hybrid test accuracy
is reported per rank count (mean and standard deviation over the seeds: 2 ranks compute the same
global-batch gradients as 1 rank, so the accuracies should agree within rounding). ``--quick`` (a
smoke run: one seed, one tiny epoch, Aer only) runs the 1-rank case in this process.

Usage:
    python benchmarks/distributed_benchmark.py [--quick] [--seeds 5] [--epochs 3]
        [--samples 300] [--batch-size 24] [--backends aer fake_manila]
        [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

FAKE_DEVICE = "fake_manila"
CASES = ((1, None), (1, 1), (2, None))
"""(ranks, threads per rank; ``None``: cores // ranks). One rank on one thread shows how much of
the one-process run is already parallel inside Aer's and torch's own thread pools."""


class _Clock:
    """Seconds spent in calls of patched functions while the epoch loop runs (rank-local)."""

    def __init__(self) -> None:
        self.active = False
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def patch(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            if not self.active:
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, name, timed)


def _all_reduce_ms(repeats: int = 200) -> dict[str, float]:
    """Median and mean wall time of one ``all_reduce`` of 40 doubles between the ranks (ms)."""
    import torch
    import torch.distributed as dist

    vector = torch.zeros(40, dtype=torch.float64)
    for _ in range(20):  # connections warm
        dist.all_reduce(vector)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dist.all_reduce(vector)
        times.append(time.perf_counter() - start)
    return {"median": 1000 * statistics.median(times), "mean": 1000 * statistics.mean(times)}


def worker(out: Path, backend: str, seed: int, args) -> None:
    """One rank of one run (under torch.distributed.run): train qnn, time the epoch loop."""
    import torch

    from hybridqml import workflows
    from hybridqml.execution._executor import Executor
    from hybridqml.training import _collectives as collectives
    from hybridqml.training import _distributed as distributed
    from hybridqml.training import init_distributed, shutdown_distributed
    from hybridqml.workflows import _trainer  # the shared loop calls run_epochs from here

    info = init_distributed()
    clock = _Clock()
    # where the epoch goes: primitive calls (Executor.run) and torch.distributed collectives
    # (the failure checks of collectives.check_peers included)
    clock.patch(Executor, "run", "quantum")
    clock.patch(collectives, "collective", "collectives")
    distributed.collective = collectives.collective
    timing = {"all_reduce_ms": _all_reduce_ms() if info.world_size > 1 else None}
    original = _trainer.run_epochs

    def timed(**kwargs):
        if info.world_size > 1:  # a rank that started up slower must not count as epoch time
            import torch.distributed as dist

            dist.barrier()
        clock.active = True
        start = time.perf_counter()
        loop = original(**kwargs)
        timing["seconds"] = time.perf_counter() - start
        clock.active = False
        timing["epochs"] = loop.epochs_completed
        return loop

    _trainer.run_epochs = timed
    try:
        result = workflows.train_qnn(
            workflows.QNNConfig(
                out_dir=out / "run",
                backend=backend,
                seed=seed,
                epochs=args.epochs,
                n_samples=args.samples,
                batch_size=args.batch_size,
                progress=False,
            )
        )
    finally:
        _trainer.run_epochs = original
        shutdown_distributed()
    if info.is_main:
        epochs = timing["epochs"]
        record = {
            "seconds_per_epoch": timing["seconds"] / epochs,
            "quantum_seconds_per_epoch": clock.seconds.get("quantum", 0.0) / epochs,
            "collective_seconds_per_epoch": clock.seconds.get("collectives", 0.0) / epochs,
            "collectives_per_epoch": clock.calls.get("collectives", 0) / epochs,
            "hybrid_test_accuracy": result.hybrid_test_accuracy,
            "threads": int(os.environ.get("OMP_NUM_THREADS") or torch.get_num_threads()),
            "all_reduce_ms": timing["all_reduce_ms"],
        }
        (out / "result.json").write_text(json.dumps(record))


def launch(
    backend: str, seed: int, ranks: int, args, scratch: Path, threads: int | None = None
) -> dict:
    """Run one training as ``ranks`` processes (``threads`` each); rank 0's record."""
    threads = threads or max(1, (os.cpu_count() or 1) // ranks)
    out = scratch / f"{backend}-seed{seed}-ranks{ranks}-threads{threads}"
    out.mkdir(parents=True)
    if args.quick and ranks == 1:  # smoke run: spare one process start-up
        worker(out, backend, seed, args)
        return json.loads((out / "result.json").read_text())
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        f"--nproc-per-node={ranks}",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=127.0.0.1:0",
        str(Path(__file__).resolve()),
        "--worker",
        str(out),
        "--backend-name",
        backend,
        "--seed",
        str(seed),
        "--epochs",
        str(args.epochs),
        "--samples",
        str(args.samples),
        "--batch-size",
        str(args.batch_size),
    ]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{backend} with {ranks} ranks failed:\n{proc.stderr[-3000:]}")
    return json.loads((out / "result.json").read_text())


def _mean_sd(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=24)
    p.add_argument("--backends", nargs="+", default=["aer", FAKE_DEVICE])
    p.add_argument("--worker", metavar="OUT", help=argparse_hidden())
    p.add_argument("--backend-name", help=argparse_hidden())
    p.add_argument("--seed", type=int, default=0, help=argparse_hidden())
    args = p.parse_args()
    if args.worker:
        worker(Path(args.worker), args.backend_name, args.seed, args)
        return
    if args.quick:
        args.seeds, args.epochs, args.samples, args.batch_size = 1, 1, 60, 13
        args.backends = ["aer"]
    meta = _common.machine_metadata()
    rows, records, records_runs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            cases = [c for c in CASES if not (args.quick and c == (1, 1))]
            runs = {
                c: [launch(backend, s, c[0], args, Path(tmp), c[1]) for s in range(args.seeds)]
                for c in cases
            }
            times = {c: statistics.median(x["seconds_per_epoch"] for x in runs[c]) for c in cases}
            records_runs.extend(x for c in cases for x in runs[c])

            def median(c, key, runs=runs):
                return statistics.median(x[key] for x in runs[c])

            for c in cases:
                r = c[0]
                accuracies = [x["hybrid_test_accuracy"] for x in runs[c]]
                speedup = times[CASES[0]] / times[c]
                quantum = median(c, "quantum_seconds_per_epoch")
                comm = median(c, "collective_seconds_per_epoch")
                n_comm = median(c, "collectives_per_epoch")
                rows.append(
                    [
                        backend,
                        r,
                        runs[c][0]["threads"],
                        f"{times[c]:.2f}",
                        f"{speedup:.2f}x",
                        f"{quantum:.2f}",
                        f"{comm:.2f} ({n_comm:.0f})" if r > 1 else "-",
                        _mean_sd(accuracies),
                    ]
                )
                records.append(
                    {
                        "backend": backend,
                        "ranks": r,
                        "seconds_per_epoch": times[c],
                        "speedup": speedup,
                        "quantum_seconds_per_epoch": quantum,
                        "collective_seconds_per_epoch": comm,
                        "collectives_per_epoch": n_comm,
                        "hybrid_test_accuracy": accuracies,
                        "threads_per_rank": runs[c][0]["threads"],
                    }
                )
    latencies = [x["all_reduce_ms"] for x in records_runs if x.get("all_reduce_ms") is not None]
    latency = (
        " One gloo all_reduce of 40 numbers between the 2 ranks, back to back, took"
        f" {statistics.median(x['median'] for x in latencies):.2f} ms (median; mean"
        f" {statistics.median(x['mean'] for x in latencies):.2f} ms; 200 in each 2-rank run,"
        " medians over the runs); inside training steps a collective costs more (the"
        " collectives column: seconds over calls)."
        if latencies
        else ""
    )
    settings = (
        f"qnn workflow, {args.samples} points, batch {args.batch_size}, {args.epochs} epoch(s), "
        f"{args.seeds} seed(s), 4 qubits x 2 layers; OMP_NUM_THREADS = threads per rank; speed-up"
        " against 1 rank on every core"
    )
    load, cores = meta.get("load_average_1min"), os.cpu_count() or 1
    busy = (
        f" **Measured under load (1-min load average {load:.1f} on {cores} cores at the start):"
        " other jobs shared the cores, so the times and the speed-up are indicative only;"
        " rerun on a quiet machine.**"
        if load is not None and load > cores  # busier than this run alone makes it
        else ""
    )
    report = "\n".join(
        [
            "## Data-parallel training: 1 vs 2 ranks",
            "",
            _common.metadata_line(meta),
            "",
            settings + "." + latency + busy,
            "",
            _common.markdown_table(
                [
                    "backend",
                    "ranks",
                    "threads / rank",
                    "s / epoch (median)",
                    "speed-up",
                    "quantum s / epoch",
                    "collectives s / epoch (calls)",
                    "hybrid test accuracy",
                ],
                rows,
            ),
        ]
    )
    payload = {"meta": meta, "settings": settings, "rows": records, "all_reduce_ms": latencies}
    _common.emit(args, report, payload)
    if args.plot:
        fig, axes = _common.new_figure()
        labels = [
            f"{r['backend']}\n{r['ranks']} rank(s) x {r['threads_per_rank']}" for r in records
        ]
        axes[0].bar(labels, [r["seconds_per_epoch"] for r in records], color="tab:blue")
        axes[0].set_ylabel("seconds per epoch")
        axes[0].set_title("qnn: 1 vs 2 data-parallel ranks")
        _common.save_figure(fig, args.plot)


def argparse_hidden() -> str:
    """Help text of the internal worker options (hidden from --help)."""
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
