"""Layer throughput vs peers across qubit counts and batch sizes (forward + backward).

The circuit of ``benchmarks/layer_benchmark.py`` (RY encoding, 2 trainable RY layers, ring
CNOTs, Z on every qubit, float64), swept over qubits (batch 32) and over batch sizes (4 qubits):

* hybridqml on Aer (exact, parameter-shift: one Aer call forward, one backward);
* hybridqml ``backend="torch"`` with backprop and with adjoint gradients;
* qiskit-machine-learning ``TorchConnector`` on Aer's ``EstimatorV2``;
* PennyLane ``default.qubit`` backprop, ``default.qubit`` parameter-shift and
  ``lightning.qubit`` adjoint, when installed (parameter-shift and adjoint QNodes run one sample
  at a time: PennyLane cannot differentiate broadcast inputs with them).

Every method's outputs and gradients are checked against hybridqml torch backprop before it is
timed (TorchConnector to float32 rounding, lightning.qubit to 1e-7, the rest to 1e-8). A method
whose single run exceeds ``--budget`` seconds is timed once and not run at larger sizes (shown as
"over budget"): PennyLane parameter-shift, two circuits per input and weight per sample, reaches
the cap first. Times are medians over ``--repeats`` runs, one thread.

A third table takes the exact simulators to large registers (:data:`LARGE`: 14, 16 and 18 qubits
at batch 32, 20 qubits at batch 8): hybridqml torch backprop and adjoint, PennyLane
``lightning.qubit`` adjoint and ``default.qubit`` backprop. Each (method, size) runs in its own
child process, so its peak memory is its own: the child's peak resident set size (Linux
``VmHWM``), and the part of it above the child's resident size just before the first forward
pass (imports, model, inputs: the simulation's own memory). Children's outputs and gradients are
checked against the hybridqml backprop child's, as above. Here a run over
``--budget`` is timed once and the method still runs at larger sizes; a configuration predicted
to need more than half the memory available is skipped (named in the table).

Usage:
    python benchmarks/peers_benchmark.py [--quick] [--repeats 3] [--budget 20] [--large-only]
        [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import torch
from layer_benchmark import AER_OPTIONS, LAYERS, pennylane_layers, qml_connector

import hybridqml as hq

QUBITS = (2, 4, 6, 8, 10, 12)
BATCHES = (1, 4, 16, 64, 256)
SWEEP_BATCH, SWEEP_QUBITS = 32, 4
TOLERANCE = {"TorchConnector": 1e-4, "lightning": 1e-7}
#: The PennyLane methods of issue 5, in table order (those whose device is installed are run).
#: (qubits, batch) of the large-register table.
LARGE = ((14, 32), (16, 32), (18, 32), (20, 8))
LARGE_QUICK = ((6, 4),)
#: Methods of the large-register table, in table order (the first is the reference).
LARGE_METHODS = (
    "hybridqml torch backprop",
    "hybridqml torch adjoint",
    "PennyLane lightning.qubit adjoint",
    "PennyLane default.qubit backprop",
)
PENNYLANE_METHODS = (
    "PennyLane default.qubit backprop",
    "PennyLane default.qubit parameter-shift",
    "PennyLane lightning.qubit adjoint",
)


def methods(n: int, weight: torch.Tensor) -> dict[str, Callable[[], torch.nn.Module]]:
    """Factories of every method's module for ``n`` qubits, weights set to ``weight``."""
    spec = hq.circuits.variational(n_qubits=n, layers=LAYERS)

    def ours(backend: str, gradient: str | None = None) -> torch.nn.Module:
        opts = {"max_parallel_threads": 1} if backend == "aer" else None
        layer = hq.QuantumLayer(spec, backend=backend, gradient=gradient, backend_options=opts)
        layer = layer.double()
        with torch.no_grad():
            layer.weight.copy_(weight)
        return layer

    def connector() -> torch.nn.Module:
        from qiskit_aer.primitives import EstimatorV2

        conn = qml_connector(spec, EstimatorV2(options={"backend_options": AER_OPTIONS}))
        with torch.no_grad():
            conn.weight.copy_(weight.float())
        return conn

    out: dict[str, Callable[[], torch.nn.Module]] = {
        "hybridqml torch backprop": lambda: ours("torch", "backprop"),
        "hybridqml torch adjoint": lambda: ours("torch", "adjoint"),
        "hybridqml Aer parameter-shift": lambda: ours("aer"),
        "TorchConnector (Aer EstimatorV2)": connector,
    }
    peers = pennylane_layers(n, weight)
    for name in PENNYLANE_METHODS:
        if name in peers:
            out[name] = lambda m=peers[name]: m
    return out


def large_model(name: str, n: int, weight: torch.Tensor) -> torch.nn.Module | None:
    """One large-table method's module (``None`` when its library is not installed)."""
    if name.startswith("hybridqml"):
        spec = hq.circuits.variational(n_qubits=n, layers=LAYERS)
        layer = hq.QuantumLayer(spec, backend="torch", gradient=name.split()[-1]).double()
        with torch.no_grad():
            layer.weight.copy_(weight)
        return layer
    return pennylane_layers(n, weight).get(name)


def _rss_bytes() -> int:
    """Peak resident set size of this process image (``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries it over from the parent across
    ``fork`` + ``exec``, so a child would report at least its parent's peak.
    """
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(config: dict) -> dict:
    """Run one (method, qubits, batch) configuration in this (child) process."""
    torch.set_num_threads(1)
    n, batch = config["qubits"], config["batch"]
    torch.manual_seed(n * 1000 + batch)
    x = torch.rand(batch, n, dtype=torch.float64)
    weight = torch.rand(n * LAYERS, dtype=torch.float64) * 6.283
    model = large_model(config["method"], n, weight)
    if model is None:
        return {"skipped": "not installed"}
    before = _current_rss_bytes()
    start = time.perf_counter()
    got = step(model, x)  # also the warm-up run
    first = time.perf_counter() - start
    torch.save(got, config["out"])
    if first > config["budget"]:
        seconds, over = first, True
    else:
        seconds = _common.median_time(lambda: step(model, x), config["repeats"], warmup=0)
        over = False
    peak = _rss_bytes()
    return {
        "seconds": seconds,
        "peak_bytes": peak,
        "above_start_bytes": peak - before,
        "over": over,
    }


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):  # pragma: no cover - not Linux
        return None


def measure_large(
    sizes: tuple[tuple[int, int], ...], repeats: int, budget: float, folder: Path
) -> list[dict]:
    """Each large-table configuration in a child process; results checked against the first.

    A run over ``budget`` seconds is timed once (not repeated) but still run at larger sizes. A
    configuration predicted (from the method's previous size, memory ~ batch x 2^n) to need
    more than half the memory available now is skipped, so the benchmark cannot exhaust a
    shared machine.
    """
    rows, last = [], {}
    for n, batch in sizes:
        reference = None
        for name in LARGE_METHODS:
            row = {"qubits": n, "batch": batch, "method": name}
            free = _available_bytes()
            if name in last and free is not None:
                (n0, b0), used = last[name]
                predicted = used * (batch / b0) * 2 ** (n - n0)
                if predicted > free / 2:
                    rows.append({**row, "skipped": f"needs ~{predicted / 2**30:.0f} GiB"})
                    continue
            out = folder / f"{n}-{batch}-{LARGE_METHODS.index(name)}.pt"
            config = {**row, "repeats": repeats, "budget": budget, "out": str(out)}
            cmd = [sys.executable, __file__, "--child", json.dumps(config)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"{name} at {n} qubits failed:\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            if "skipped" in result:
                continue
            got = torch.load(out)
            reference = got if reference is None else reference
            tol = next((t for key, t in TOLERANCE.items() if key in name), 1e-8)
            err = max(float((a - b).abs().max()) for a, b in zip(got, reference, strict=True))
            if err > tol:
                raise SystemExit(f"{name} disagrees with the reference by {err:.2e} (n={n})")
            last[name] = ((n, batch), result["above_start_bytes"])
            rows.append({**row, **result})
            print(f"  {name}, {n} qubits: {result['seconds']:.2f} s", file=sys.stderr)
    return rows


def large_table(rows: list[dict], sizes: tuple[tuple[int, int], ...]) -> str:
    body = []
    for name in dict.fromkeys(r["method"] for r in rows):
        cells = [name]
        for n, _ in sizes:
            r = next((r for r in rows if r["method"] == name and r["qubits"] == n), None)
            if r is None or "skipped" in r:
                cells.append(f"skipped ({r['skipped']})" if r else "-")
            else:
                once = " (1 run)" if r["over"] else ""
                cells.append(
                    f"{r['seconds']:.2f} s{once}; {r['peak_bytes'] / 2**20:,.0f} MiB "
                    f"(+{r['above_start_bytes'] / 2**20:,.0f})"
                )
        body.append(cells)
    heads = [f"{n} qubits, batch {b}" for n, b in sizes]
    return _common.markdown_table(["method", *heads], body)


def step(model: torch.nn.Module, x: torch.Tensor):
    xi = x.clone().requires_grad_()
    model.zero_grad()
    y = model(xi)
    y.sum().backward()
    return y.detach().double(), xi.grad.double(), model.weight.grad.double()


def measure(n: int, batch: int, repeats: int, budget: float, over: set[str]) -> list[dict]:
    torch.manual_seed(n * 1000 + batch)
    x = torch.rand(batch, n, dtype=torch.float64)
    weight = torch.rand(n * LAYERS, dtype=torch.float64) * 6.283
    rows = []
    reference = None
    for name, factory in methods(n, weight).items():
        if name in over:
            rows.append({"qubits": n, "batch": batch, "method": name, "skipped": "over budget"})
            continue
        model = factory()
        start = time.perf_counter()
        got = step(model, x)  # also the warm-up run
        first = time.perf_counter() - start
        if reference is None:
            reference = got
        tol = next((t for key, t in TOLERANCE.items() if key in name), 1e-8)
        err = max(float((a - b).abs().max()) for a, b in zip(got, reference, strict=True))
        if err > tol:
            raise SystemExit(f"{name} disagrees with the reference by {err:.2e} (n={n}, B={batch})")
        if first > budget:
            seconds = first
            over.add(name)
        else:
            seconds = _common.median_time(lambda m=model: step(m, x), repeats, warmup=0)
        rows.append({"qubits": n, "batch": batch, "method": name, "seconds": seconds})
    return rows


def table(rows: list[dict], key: str, values: tuple[int, ...]) -> str:
    names = list(dict.fromkeys(r["method"] for r in rows))
    body = []
    for name in names:
        cells = [name]
        for v in values:
            r = next((r for r in rows if r["method"] == name and r[key] == v), None)
            if r is None or "skipped" in r:
                cells.append("over budget" if r else "-")
            else:
                cells.append(f"{r['seconds'] * 1e3:.1f} ms")
        body.append(cells)
    return _common.markdown_table(["method", *(f"{key} {v}" for v in values)], body)


def plot(qubit_rows: list[dict], batch_rows: list[dict], large_rows: list[dict], path: str) -> None:
    fig, axes = _common.new_figure(3, width=6.0, height=4.5)
    for ax, rows, key, label in (
        (axes[0], qubit_rows, "qubits", f"qubits (batch {SWEEP_BATCH})"),
        (axes[1], batch_rows, "batch", f"batch size ({SWEEP_QUBITS} qubits)"),
        (axes[2], large_rows, "qubits", "large registers (batch 32; 20 qubits: 8)"),
    ):
        for name in dict.fromkeys(r["method"] for r in rows):
            pts = [(r[key], r["seconds"]) for r in rows if r["method"] == name and "seconds" in r]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker="o", label=name)
        ax.set_yscale("log")
        if key == "batch":
            ax.set_xscale("log", base=2)
        ax.set_xlabel(label)
        ax.set_ylabel("forward + backward (s, log scale)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in (axes[0], axes[2]):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    _common.save_figure(fig, path)


def argparse_hidden() -> str:
    """Help text of the internal ``--child`` flag (hidden from ``--help``)."""
    import argparse

    return argparse.SUPPRESS


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget", type=float, default=20.0, help="seconds per run before capping")
    p.add_argument("--large-only", action="store_true", help="only the large-register table")
    p.add_argument("--child", help=argparse_hidden())
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    qubits, batches, large = QUBITS, BATCHES, LARGE
    if args.quick:
        qubits, batches, args.repeats, args.budget = (2, 4), (1, 8), 1, 2.0
        large = LARGE_QUICK
    if args.large_only:
        qubits, batches = (), ()
    torch.set_num_threads(1)
    meta = _common.machine_metadata()
    over: set[str] = set()
    qubit_rows = []
    for n in qubits:
        qubit_rows += measure(n, SWEEP_BATCH, args.repeats, args.budget, over)
        print(f"qubits {n} done", file=sys.stderr)
    over = set()
    batch_rows = []
    for b in batches:
        batch_rows += measure(SWEEP_QUBITS, b, args.repeats, args.budget, over)
        print(f"batch {b} done", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        large_rows = measure_large(large, args.repeats, args.budget, Path(folder))
    small = (
        []
        if args.large_only
        else [
            f"By qubit count (batch {SWEEP_BATCH}):",
            "",
            table(qubit_rows, "qubits", qubits),
            "",
            f"By batch size ({SWEEP_QUBITS} qubits):",
            "",
            table(batch_rows, "batch", batches),
            "",
        ]
    )
    report = "\n".join(
        [
            "## Layer throughput vs peers",
            "",
            f"Forward + backward (inputs and weights), float64, {LAYERS} layers, ring CNOTs, one "
            f"thread, median of {args.repeats} runs; outputs and gradients checked equal first.",
            "",
            *small,
            "Large registers: forward + backward time (median of "
            f"{args.repeats}); peak resident memory of the method's own process (in brackets: "
            "above its resident size just before the first pass). PennyLane adjoint runs one "
            "sample at a time, as above.",
            "",
            large_table(large_rows, large),
            "",
            _common.metadata_line(meta),
        ]
    )
    payload = {"meta": meta, "by_qubits": qubit_rows, "by_batch": batch_rows, "large": large_rows}
    _common.emit(args, report, payload)
    if args.plot:
        plot(qubit_rows, batch_rows, large_rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
