"""Parameter-shift gradients through ZNE: accuracy and cost of the per-copy and shared rules.

``variational(n, 2)`` on ``fake_manila``, exact noisy values, ``mitigation="zne"`` (scale
factors 1, 3, 5, Richardson). For each rule (``shift_rule="per-copy"``: each folded copy of a
rotation shifted on its own; ``"shared"``: the two-term rule on the shared angle) and, for
reference, no mitigation:

* accuracy: the largest |d(sum of outputs)/d weight - central difference of the same layer's
  values| (step 1e-5) over a batch, and the largest deviation from the noisy torch engine's
  backprop gradients of the same mitigated values (an independent, exact implementation);
* cost: circuit bindings and estimated QPU seconds of one backward pass (counted by a dry run
  with 1,000 shots: executed shots / 1,000; QPU time from the device's gate durations) and its
  simulated wall time (median, per-copy, shared and unmitigated timed in alternation, one
  thread).

Usage:
    python benchmarks/zne_gradient_benchmark.py [--quick] [--qubits 2 3 4] [--batch 8]
        [--repeats 5] [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import numpy as np
import torch

import hybridqml as hq
from hybridqml.execution import _tracking as tracking
from hybridqml.mitigation import Mitigation

DEVICE = "fake_manila"
RULES = ("per-copy", "shared")
EPS = 1e-5


def _layer(spec, weights, rule: str | None, *, shots=None, engine="aer"):
    mitigation = None if rule is None else Mitigation(zne=True, shift_rule=rule)
    options = {"backend": DEVICE}
    if engine == "torch":
        options = {"backend": "torch", "backend_options": {"device": DEVICE}}
    seed = None if shots is None else 1
    return hq.QuantumLayer(
        spec, mitigation=mitigation, init=weights.clone(), shots=shots, seed=seed, **options
    )


def _weight_grad(layer, x) -> np.ndarray:
    layer.weight.grad = None
    layer(x).sum().backward()
    return layer.weight.grad.numpy().copy()


def _central(layer, x) -> np.ndarray:
    w0 = layer.weight.detach().clone()
    out = np.zeros(w0.shape[0])
    with torch.no_grad():
        for j in range(w0.shape[0]):
            values = []
            for sign in (1, -1):
                layer.weight.copy_(w0)
                layer.weight[j] += sign * EPS
                values.append(layer(x).sum().item())
            out[j] = (values[0] - values[1]) / (2 * EPS)
        layer.weight.copy_(w0)
    return out


def _backward_cost(layer, x) -> tuple[int, float]:
    """Circuit bindings and estimated QPU seconds of one backward pass (a dry run, 1,000 shots)."""
    with hq.Tracker() as tracker, tracking.dry_run():
        layer.weight.grad = None
        layer(x).sum().backward()
    counts = tracker.by_kind["parameter-shift"]
    return counts["executed_shots"] // 1000, counts["qpu_seconds"]


def measure(n: int, batch: int, repeats: int) -> list[dict]:
    """The rows of one circuit size: accuracy, bindings and time of each rule."""
    spec = hq.circuits.variational(n, 2)
    rng = np.random.default_rng(n)
    weights = torch.tensor(rng.uniform(-2, 2, spec.n_weights))
    x = torch.tensor(rng.uniform(-2, 2, (batch, n)))
    rules: dict[str, str | None] = {"none": None, **{r: r for r in RULES}}
    layers = {name: _layer(spec, weights, rule) for name, rule in rules.items()}
    backprop = {
        name: _weight_grad(_layer(spec, weights, rule, engine="torch"), x)
        for name, rule in rules.items()
        if name != "shared"
    }
    backprop["shared"] = backprop["per-copy"]  # the same mitigated values

    def backward(layer):
        return lambda: _weight_grad(layer, x)

    times = _common.interleaved_median_times(
        {name: backward(layer) for name, layer in layers.items()}, repeats, min_seconds=0.5
    )
    rows = []
    for name, rule in rules.items():
        grad = _weight_grad(layers[name], x)
        bindings, qpu_seconds = _backward_cost(_layer(spec, weights, rule, shots=1000), x)
        rows.append(
            {
                "qubits": n,
                "rule": name,
                "weights": spec.n_weights,
                "max_dev_central": float(np.abs(grad - _central(layers[name], x)).max()),
                "max_dev_backprop": float(np.abs(grad - backprop[name]).max()),
                "bindings": bindings,
                "qpu_seconds": qpu_seconds,
                "seconds": times[name],
                "exact": layers[name].engine.mitigation is None
                or bool(layers[name].engine.mitigation["shift_rule_exact"]),
            }
        )
    base = {r["rule"]: r for r in rows}
    for r in rows:
        r["bindings_vs_shared"] = r["bindings"] / base["shared"]["bindings"]
        r["qpu_vs_shared"] = r["qpu_seconds"] / base["shared"]["qpu_seconds"]
        r["time_vs_shared"] = r["seconds"] / base["shared"]["seconds"]
    return rows


def plot(rows: list[dict], path: str) -> None:
    fig, (ax1, ax2) = _common.new_figure(2, width=5.0)
    for rule in ("none", *RULES):
        sel = [r for r in rows if r["rule"] == rule]
        qubits = [r["qubits"] for r in sel]
        ax1.semilogy(qubits, [max(r["max_dev_central"], 1e-16) for r in sel], "o-", label=rule)
        ax2.plot(qubits, [r["seconds"] * 1e3 for r in sel], "o-", label=rule)
    ax1.set(xlabel="qubits", ylabel="max |grad - central difference|", title="accuracy")
    ax2.set(xlabel="qubits", ylabel="backward pass (ms)", title="cost")
    ax1.legend()
    ax2.legend()
    _common.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--qubits", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    if args.quick:
        args.qubits, args.batch, args.repeats = [2], 2, 1
    torch.set_num_threads(1)
    meta = _common.machine_metadata()
    rows = []
    for n in args.qubits:
        rows += measure(n, args.batch, args.repeats)
        print(f"qubits {n} done", file=sys.stderr)
    body = [
        [
            r["qubits"],
            r["rule"],
            "yes" if r["exact"] else "no",
            f"{r['max_dev_central']:.1e}",
            f"{r['max_dev_backprop']:.1e}",
            f"{r['bindings']:,}",
            f"{r['bindings_vs_shared']:.2f}x",
            f"{r['qpu_seconds']:.2f} s",
            f"{r['qpu_vs_shared']:.2f}x",
            f"{r['seconds'] * 1e3:.0f} ms",
            f"{r['time_vs_shared']:.2f}x",
        ]
        for r in rows
    ]
    headers = [
        "qubits",
        "rule",
        "exact",
        "max dev. central diff.",
        "max dev. torch backprop",
        "circuit bindings",
        "vs shared",
        "QPU time (est.)",
        "vs shared",
        "backward",
        "vs shared",
    ]
    report = _common.table_report(
        "Parameter shift through ZNE: per-copy vs shared rule",
        f"variational(n, 2) on {DEVICE}, exact noisy values, ZNE scale factors 1, 3, 5 "
        f"(Richardson), batch {args.batch}, weight gradients of the summed outputs. "
        "Deviations: against central differences (step 1e-5) of the same layer's values "
        "and against the noisy torch engine's backprop of the same mitigated values. "
        "Bindings and QPU time: one backward pass with 1,000 shots, counted by a dry run "
        "(QPU time estimated from fake_manila's gate durations). Backward: median wall "
        "time of the simulation (exact values, hybridqml's density-matrix sampler), the "
        "three timed in alternation, one thread.",
        headers,
        body,
        meta,
    )
    return _common.publish(args, report, {"meta": meta, "rows": rows}, plot)


if __name__ == "__main__":
    sys.exit(main())
