"""torch.compile benchmark: does compiling a quantum layer make a training step faster?

A forward + backward pass (inputs and weights) of ``QuantumLayer(variational(n, 2),
backend="torch", gradient="backprop")``, float64, batch 32, one thread, for each qubit count:

* ``eager``: the layer as it is;
* ``aot_eager``: ``torch.compile(layer, backend="aot_eager")`` (dynamo + AOT autograd, no code
  generation: the cost of the capture alone);
* ``inductor``: ``torch.compile(layer)``, the default backend (C++ code generation on CPU;
  it has no complex-number code generation, so the statevector kernels fall back to aten).

Also an Aer layer inside a compiled ``nn.Sequential`` (``backend="aer"``): the quantum call is a
graph break by design (it runs eagerly), so no speed-up is expected; the row shows the cost.

Before timing, compiled outputs and gradients are checked equal to the eager ones (1e-12).
Compile time is the first call (tracing and code generation); the step times are medians of
calls timed in alternation (``_common.interleaved_median_times``). ``--quick`` runs 2 qubits
with ``eager`` and ``aot_eager`` only.

Usage:
    python benchmarks/compile_benchmark.py [--quick] [--qubits 4 8] [--repeats 20]
        [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import torch

import hybridqml as hq

BATCH = 32
LAYERS = 2
TOL = 1e-12


def _step(module: torch.nn.Module, x: torch.Tensor):
    def run() -> tuple[torch.Tensor, ...]:
        module.zero_grad()
        xi = x.detach().requires_grad_(True)
        out = module(xi)
        out.sum().backward()
        return (out.detach(), xi.grad, *(p.grad for p in module.parameters()))

    return run


def _check(got: tuple[torch.Tensor, ...], want: tuple[torch.Tensor, ...], label: str) -> float:
    worst = max(float((a - b).abs().max()) for a, b in zip(got, want, strict=True))
    if worst > TOL:
        raise SystemExit(f"{label}: compiled differs from eager by {worst:.2e}")
    return worst


def _compiled(module: torch.nn.Module, backend: str | None) -> torch.nn.Module:
    torch._dynamo.reset()
    return torch.compile(module) if backend is None else torch.compile(module, backend=backend)


def bench(model: torch.nn.Module, x: torch.Tensor, backends: dict[str, str | None], repeats: int):
    eager = _step(model, x)
    reference = eager()
    steps = {"eager": eager}
    rows = {}
    for name, backend in backends.items():
        compiled = _step(_compiled(model, backend), x)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # inductor: "no code generation for complex"
            got = compiled()
        rows[name] = {
            "compile_s": time.perf_counter() - start,
            "max_diff": _check(got, reference, name),
        }
        steps[name] = compiled
    times = _common.interleaved_median_times(steps, repeats, min_seconds=2.0)
    out = {"eager": {"step_ms": times["eager"] * 1e3, "compile_s": 0.0, "max_diff": 0.0}}
    for name, row in rows.items():
        out[name] = row | {"step_ms": times[name] * 1e3}
    for row in out.values():
        row["speedup"] = out["eager"]["step_ms"] / row["step_ms"]
    return out


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--qubits", type=int, nargs="+", default=[4, 8])
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(1)
    qubits = [2] if args.quick else args.qubits
    backends = (
        {"aot_eager": "aot_eager"} if args.quick else {"aot_eager": "aot_eager", "inductor": None}
    )
    repeats = 3 if args.quick else args.repeats
    results = []
    for n in qubits:
        torch.manual_seed(n)
        layer = hq.QuantumLayer(hq.circuits.variational(n, LAYERS), backend="torch").double()
        x = torch.rand(BATCH, n, dtype=torch.float64)
        for name, row in bench(layer, x, backends, repeats).items():
            results.append({"model": f"torch layer, {n} qubits", "mode": name, **row})
    n = 2 if args.quick else 4
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(n, n), hq.QuantumLayer(hq.circuits.variational(n, LAYERS), backend="aer")
    ).double()
    x = torch.rand(BATCH, n, dtype=torch.float64)
    for name, row in bench(model, x, {"aot_eager": "aot_eager"}, repeats).items():
        results.append({"model": f"Linear + aer layer, {n} qubits", "mode": name, **row})

    meta = _common.machine_metadata()
    table = _common.markdown_table(
        [
            "model",
            "mode",
            "step ms (median)",
            "speed-up vs eager",
            "compile s (first call)",
            "max abs difference to eager",
        ],
        [
            [
                r["model"],
                r["mode"],
                f"{r['step_ms']:.2f}",
                f"{r['speedup']:.2f}x",
                "-" if r["mode"] == "eager" else f"{r['compile_s']:.1f}",
                f"{r['max_diff']:.1e}",
            ]
            for r in results
        ],
    )
    report = (
        f"{_common.metadata_line(meta)}\n\n"
        f"Forward + backward (inputs and weights), float64, batch {BATCH}, {LAYERS} layers, "
        "one thread; compiled outputs and gradients checked equal to eager (1e-12) first.\n\n"
        f"{table}\n"
    )
    _common.emit(args, report, {"meta": meta, "rows": results, "quick": args.quick})
    if args.plot:
        fig, (ax,) = _common.new_figure(height=2 + 0.4 * len(results))
        labels = [f"{r['model']}\n{r['mode']}" for r in results]
        ax.barh(range(len(results)), [r["step_ms"] for r in results])
        ax.set_yticks(range(len(results)), labels, fontsize=6)
        ax.set_xlabel("ms per forward + backward (median)")
        ax.set_title("torch.compile vs eager")
        _common.save_figure(fig, args.plot)


if __name__ == "__main__":
    main()
