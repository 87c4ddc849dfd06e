"""Layer build time on the torch simulator at large registers: compile, first and later calls.

``QuantumLayer(circuits.variational(n, 2), backend="torch")``: the build compiles the circuit
(one-qubit runs fused, the CNOT ring composed into one permutation of the ``2**n`` amplitudes);
the first forward call also builds the device constants (the permutation's inverse); later
calls only simulate. Batch 1, float64, one thread, median over ``--repeats`` fresh layers (after
one untimed build that warms imports).

Usage:
    python benchmarks/build_benchmark.py [--quick] [--qubits 16 20 24] [--repeats 3]
        [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import torch

import hybridqml as hq

LAYERS = 2


def measure(n: int, repeats: int) -> dict:
    """Median seconds to build, to run the first forward call, and to run a later one."""
    spec = hq.circuits.variational(n, LAYERS)
    x = torch.zeros(1, n, dtype=torch.float64)
    times: dict[str, list[float]] = {"build": [], "first": [], "later": []}
    for _ in range(repeats):
        start = time.perf_counter()
        layer = hq.QuantumLayer(spec, backend="torch").double()
        times["build"].append(time.perf_counter() - start)
        with torch.no_grad():
            for key in ("first", "later"):
                start = time.perf_counter()
                layer(x)
                times[key].append(time.perf_counter() - start)
        del layer
    return {"qubits": n, **{k: statistics.median(v) for k, v in times.items()}}


def plot(rows: list[dict], path: str) -> None:
    fig, (ax,) = _common.new_figure()
    qubits = [r["qubits"] for r in rows]
    for key, label in (("build", "build"), ("first", "first call"), ("later", "later call")):
        ax.semilogy(qubits, [r[key] for r in rows], "o-", label=label)
    ax.set(xlabel="qubits", ylabel="seconds", title="torch layer, variational(n, 2), batch 1")
    ax.legend()
    _common.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--qubits", type=int, nargs="+", default=[16, 20, 24])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if args.quick:
        args.qubits, args.repeats = [4, 8], 1
    torch.set_num_threads(1)
    meta = _common.machine_metadata()
    hq.QuantumLayer(hq.circuits.variational(2, LAYERS), backend="torch")  # imports, untimed
    rows = []
    for n in args.qubits:
        rows.append(measure(n, args.repeats))
        print(f"qubits {n} done", file=sys.stderr)
    body = [
        [r["qubits"], f"{r['build']:.3f} s", f"{r['first']:.3f} s", f"{r['later']:.3f} s"]
        for r in rows
    ]
    report = _common.table_report(
        "Torch layer build time at large registers",
        f"variational(n, {LAYERS}) on backend='torch', batch 1, float64, one thread; median "
        f"over {args.repeats} fresh layers after an untimed warm-up build.",
        ["qubits", "build", "first forward", "later forward"],
        body,
        meta,
    )
    return _common.publish(args, report, {"meta": meta, "rows": rows}, plot)


if __name__ == "__main__":
    sys.exit(main())
