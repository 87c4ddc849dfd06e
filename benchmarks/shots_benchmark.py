"""Finite-shot vs exact evaluations on noiseless Aer (the default ``"aer"`` backend).

One evaluation is one layer call on a batch of 32 (the circuit of ``layer_benchmark.py``: RY
encoding, 2 trainable RY layers, ring CNOTs, Z on every qubit; the textbook circuit at 1 qubit),
forward only and forward + backward (parameter shift: one Aer call each way). Exact runs use
Aer's statevector expectation values; shot runs draw the shots from the exact Born probabilities
(:class:`~hybridqml.backends.aer._born.AerBornSampler`, one probability run of one shot per
binding). Every configuration is timed in alternation with the exact one (median over rounds
filling ~``--seconds`` each), one thread. The ratio column is the issue-16 target: <= 2x.

Usage:
    python benchmarks/shots_benchmark.py [--quick] [--seconds 2]
        [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import torch

import hybridqml as hq

QUBITS = (1, 4, 8, 12)
SHOTS = (1024, 10_000)
BATCH = 32
LAYERS = 2


def layer(n: int, shots: int | None) -> torch.nn.Module:
    """The benchmark layer on ``n`` qubits with ``shots`` (``None``: exact)."""
    spec = hq.circuits.ry(1) if n == 1 else hq.circuits.variational(n_qubits=n, layers=LAYERS)
    opts = {"max_parallel_threads": 1}
    seed = None if shots is None else 1  # an exact layer has nothing to seed (and refuses one)
    return hq.QuantumLayer(
        spec, backend="aer", shots=shots, seed=seed, backend_options=opts
    ).double()


def measure(n: int, shots_list: tuple[int, ...], seconds: float) -> list[dict]:
    """Median times of exact and shot evaluations on ``n`` qubits, forward and both ways."""
    torch.manual_seed(n)
    x = torch.rand(BATCH, n, dtype=torch.float64)
    layers = {None: layer(n, None), **{s: layer(n, s) for s in shots_list}}

    def forward(m):
        with torch.no_grad():
            m(x)

    def both(m):
        m.zero_grad()
        m(x.clone().requires_grad_()).sum().backward()

    rows = []
    for mode, fn in (("forward", forward), ("forward+backward", both)):
        fns = {str(s): (lambda m=m, f=fn: f(m)) for s, m in layers.items()}
        times = _common.interleaved_median_times(fns, 5, min_seconds=seconds)
        exact = times["None"]
        for s in shots_list:
            rows.append(
                {
                    "qubits": n,
                    "pass": mode,
                    "shots": s,
                    "exact_seconds": exact,
                    "shots_seconds": times[str(s)],
                    "ratio": times[str(s)] / exact,
                }
            )
    return rows


def plot(rows: list[dict], path: str) -> None:
    fig, axes = _common.new_figure(1, width=6.5, height=4.2)
    ax = axes[0]
    for mode in dict.fromkeys(r["pass"] for r in rows):
        for s in dict.fromkeys(r["shots"] for r in rows):
            pts = [(r["qubits"], r["ratio"]) for r in rows if r["pass"] == mode and r["shots"] == s]
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", label=f"{mode}, {s} shots")
    ax.axhline(2.0, color="grey", linestyle="--", label="target (2x)")
    ax.set_xlabel(f"qubits (batch {BATCH})")
    ax.set_ylabel("shot evaluation time / exact evaluation time")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    _common.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=2.0, help="timing per configuration")
    args = p.parse_args(argv)
    qubits, shots = QUBITS, SHOTS
    if args.quick:
        qubits, shots, args.seconds = (4,), (1024,), 0.1
    torch.set_num_threads(1)
    meta = _common.machine_metadata()
    rows = []
    for n in qubits:
        rows += measure(n, shots, args.seconds)
        print(f"qubits {n} done", file=sys.stderr)
    body = [
        [
            r["qubits"],
            r["pass"],
            f"{r['shots']:,}",
            f"{r['exact_seconds'] * 1e3:.2f} ms",
            f"{r['shots_seconds'] * 1e3:.2f} ms",
            f"{r['ratio']:.2f}x",
        ]
        for r in rows
    ]
    headers = ["qubits", "pass", "shots", "exact", "with shots", "shots / exact"]
    report = _common.table_report(
        "Finite shots vs exact on noiseless Aer",
        f"Batch {BATCH}, float64, {LAYERS} layers (1 qubit: the textbook circuit), one thread; "
        "exact and shot layers timed in alternation, median.",
        headers,
        body,
        meta,
    )
    return _common.publish(args, report, {"meta": meta, "rows": rows}, plot)


if __name__ == "__main__":
    sys.exit(main())
