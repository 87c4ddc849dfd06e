"""Layer benchmark: hybridqml QuantumLayer vs a raw batched Aer call vs qiskit-machine-learning.

Exact simulation, variational circuits (RY encoding, 2 trainable layers, ring CNOTs), batch 32,
one thread everywhere (torch, Aer). For each qubit count it times, median of ``--repeats`` runs:

* ``hybridqml``: ``QuantumLayer(spec, backend="aer")`` forward, and forward + backward
  (parameter-shift for inputs and weights).
* ``raw Aer``: one ``AerSimulator.run`` call with ``parameter_binds`` evaluating the same number
  of bindings (B for forward, B x (1 + 2 x params) for forward + backward) with the same Aer
  options and one ``save_expectation_value`` per observable: the floor any wrapper pays.
  hybridqml and the raw call are timed in alternation (so load changes hit both alike), for at
  least ``--repeats`` rounds and about three seconds each, so 2 ms passes get a thousand rounds.
* ``TorchConnector``: qiskit-machine-learning's ``EstimatorQNN`` + ``TorchConnector`` on the same
  circuit, with its default reference estimator and with Aer's ``EstimatorV2``.

Before timing, outputs and gradients of hybridqml and TorchConnector are checked equal (to
float32 rounding: TorchConnector returns float32).

A second table times the torch-native exact backends on the same circuit, forward + backward
(inputs and weights), float64:

* ``hybridqml torch``: ``QuantumLayer(spec, backend="torch")`` with ``gradient="backprop"`` and
  ``"adjoint"``;
* ``hand-written``: :class:`HandWritten`, a 45-line batched statevector for exactly this circuit
  (complex128, RY as a broadcast 2x2 matmul, each CNOT layer composed into one gather), the
  floor a general simulator is measured against; also in real float64 arithmetic (exact for
  RY + CNOT circuits only), the cheapest state a hand-written simulator of this circuit can use;
* ``PennyLane``: ``default.qubit`` with ``backprop`` and ``parameter-shift`` (broadcast inputs)
  and ``lightning.qubit`` with ``adjoint``, when PennyLane is importable (reported as skipped
  otherwise; ``pip install "hybridqml[pennylane]"``).

Outputs and gradients are checked equal to 1e-10 before timing (lightning.qubit: 1e-7; its
forward values differ from every other implementation by ~2e-8). Memory: bytes of the tensors
autograd saves for the backward pass (``torch.autograd.graph.saved_tensors_hooks``), the memory
that grows with circuit depth.

Usage:
    python benchmarks/layer_benchmark.py [--quick] [--repeats 5] [--json OUT] [--markdown OUT]
        [--plot OUT.png]
    python benchmarks/layer_benchmark.py --torch-only [--qubits 4 8] [--repeats 20]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import _common
import numpy as np
import qiskit
import qiskit_aer
import torch
from qiskit_aer import AerSimulator

import hybridqml as hq

BATCH = 32
LAYERS = 2
#: Seconds each of hybridqml and the raw Aer call is timed for, in alternation (at least).
PAIRED_SECONDS = 3.0
AER_OPTIONS = {
    "method": "statevector",
    "runtime_parameter_bind_enable": True,
    "max_parallel_threads": 1,
}


median_time = _common.median_time  # warm-up run, then the median of `repeats`


def raw_aer_call(spec: hq.ParameterizedCircuit, n_bindings: int) -> Callable[[], object]:
    sim = AerSimulator(**AER_OPTIONS)
    circuit = spec.circuit
    for i, obs in enumerate(spec.observables):
        circuit.save_expectation_value(obs, range(spec.n_qubits), label=f"o{i}")
    values = np.random.default_rng(0).uniform(-np.pi, np.pi, (n_bindings, len(spec.parameters)))
    binds = [{p: values[:, j] for j, p in enumerate(spec.parameters)}]

    def run():
        result = sim.run(circuit, parameter_binds=binds).result()
        return [result.data(i)["o0"] for i in range(n_bindings)]

    return run


def qml_connector(spec: hq.ParameterizedCircuit, estimator):
    from qiskit_machine_learning.connectors import TorchConnector
    from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    qnn = EstimatorQNN(
        circuit=spec.circuit,
        estimator=estimator,
        observables=list(spec.observables),
        input_params=list(spec.input_params),
        weight_params=list(spec.weight_params),
        input_gradients=True,
        gradient=ParamShiftEstimatorGradient(estimator),
        default_precision=0.0,
    )
    return TorchConnector(qnn)


def check_equal(ours: torch.nn.Module, theirs: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        theirs.weight.copy_(ours.weight.to(theirs.weight.dtype))
    ours.zero_grad()
    theirs.zero_grad()
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), theirs(xb)
    ya.sum().backward()
    yb.sum().backward()
    diffs = [
        (ya - yb).abs().max(),
        (xa.grad - xb.grad).abs().max(),
        (ours.weight.grad - theirs.weight.grad).abs().max(),
    ]
    err = float(max(diffs))
    # TorchConnector hands back float32 tensors, so agreement is to float32 rounding
    # (the float64 comparison to 1e-8 lives in tests/test_reference_qml.py).
    if err > 1e-4:
        raise SystemExit(f"hybridqml and TorchConnector disagree by {err:.2e}; not timing")
    return err


def bench_qubits(
    n: int, repeats: int, with_reference: bool, paired_seconds: float = PAIRED_SECONDS
) -> list[dict]:
    from qiskit.primitives import StatevectorEstimator
    from qiskit_aer.primitives import EstimatorV2 as AerEstimator

    spec = hq.circuits.variational(n_qubits=n, layers=LAYERS)
    layer = hq.QuantumLayer(spec, backend="aer", backend_options={"max_parallel_threads": 1})
    layer.double()
    x = torch.rand(BATCH, n, dtype=torch.float64)
    n_params = spec.n_inputs + spec.n_weights

    def ours_forward():
        with torch.no_grad():
            return layer(x)

    def ours_both():
        xi = x.clone().requires_grad_()
        layer.zero_grad()
        layer(xi).sum().backward()

    peers = {
        "TorchConnector (Aer EstimatorV2)": AerEstimator(options={"backend_options": AER_OPTIONS})
    }
    if with_reference:
        peers["TorchConnector (StatevectorEstimator)"] = StatevectorEstimator()
    connectors = {}
    for name, est in peers.items():
        conn = qml_connector(spec, est).double()
        check_equal(layer, conn, x)
        connectors[name] = conn

    rows = []
    for pass_name, ours, n_bind in (
        ("forward", ours_forward, BATCH),
        ("forward+backward", ours_both, BATCH * (1 + 2 * n_params)),
    ):
        # ours and the raw call alternate, so both see the same machine load
        paired = _common.interleaved_median_times(
            {"ours": ours, "raw": raw_aer_call(spec, n_bind)}, repeats, min_seconds=paired_seconds
        )
        row = {
            "qubits": n,
            "pass": pass_name,
            "bindings": n_bind,
            "hybridqml_s": paired["ours"],
            "raw_aer_s": paired["raw"],
        }
        for name, conn in connectors.items():
            if pass_name == "forward":

                def fn(conn=conn):
                    with torch.no_grad():
                        return conn(x)
            else:

                def fn(conn=conn):
                    xi = x.clone().requires_grad_()
                    conn.zero_grad()
                    conn(xi).sum().backward()

            row[name] = median_time(fn, max(1, repeats // 2) if n >= 8 else repeats)
        rows.append(row)
    return rows


class HandWritten(torch.nn.Module):
    """Hand-written batched statevector of the variational circuit (RY encoding, ring CNOTs)."""

    def __init__(self, n: int, layers: int, weight: torch.Tensor, *, real: bool = False) -> None:
        super().__init__()
        self.n, self.layers = n, layers
        self.dtype = torch.float64 if real else torch.complex128  # RY and CNOT are real
        self.weight = torch.nn.Parameter(weight.detach().clone())
        index = torch.arange(2**n)
        perm = index.clone()  # out[i] = psi[perm[i]]; CNOT(c, t) maps i -> i ^ (bit_c(i) << t)
        for c, t in hq.circuits.entangling_pairs(n, "ring"):
            perm = perm[index ^ (((index >> c) & 1) << t)]
        self.perm = perm
        self.zsign = (1 - 2 * ((index[:, None] >> torch.arange(n)) & 1)).double()  # (2^n, n)

    def ry(self, psi: torch.Tensor, angle: torch.Tensor, q: int) -> torch.Tensor:
        c, s = torch.cos(angle / 2), torch.sin(angle / 2)
        m = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
        b = psi.shape[0]
        view = psi.reshape(b, 2 ** (self.n - 1 - q), 2, 2**q)
        m = m.to(psi.dtype).expand(b, 2, 2).unsqueeze(1)  # (B, 1, 2, 2) against (B, L, 2, R)
        return torch.matmul(m, view).reshape(b, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        psi = torch.zeros(b, 2**self.n, dtype=self.dtype)
        psi[:, 0] = 1
        for q in range(self.n):
            psi = self.ry(psi, x[:, q], q)
        for layer in range(self.layers):
            for q in range(self.n):
                psi = self.ry(psi, self.weight[layer * self.n + q], q)
            psi = psi.index_select(1, self.perm)
        probs = (
            psi.square() if self.dtype == torch.float64 else psi.real.square() + psi.imag.square()
        )
        return probs @ self.zsign


def pennylane_layers(n: int, weight: torch.Tensor) -> dict[str, torch.nn.Module]:
    """PennyLane QNodes of the same circuit as modules (empty when PennyLane is missing)."""
    try:
        import pennylane as qml
    except ImportError:
        return {}
    pairs = hq.circuits.entangling_pairs(n, "ring")

    def make(device: str, diff_method: str) -> torch.nn.Module:
        dev = qml.device(device, wires=n)
        broadcast = diff_method == "backprop"

        @qml.qnode(dev, interface="torch", diff_method=diff_method)
        def circuit(x, w):
            for q in range(n):
                qml.RY(x[..., q], wires=q)
            for layer in range(LAYERS):
                for q in range(n):
                    qml.RY(w[layer * n + q], wires=q)
                for c, t in pairs:
                    qml.CNOT(wires=[c, t])
            return [qml.expval(qml.PauliZ(q)) for q in range(n)]

        class QNodeLayer(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.weight = torch.nn.Parameter(weight.detach().clone())

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if broadcast:
                    return torch.stack(list(circuit(x, self.weight)), dim=-1)
                # parameter shift and adjoint cannot differentiate broadcast inputs: per sample
                return torch.stack([torch.stack(list(circuit(r, self.weight))) for r in x])

        return QNodeLayer()

    out = {
        "PennyLane default.qubit backprop": make("default.qubit", "backprop"),
        "PennyLane default.qubit parameter-shift": make("default.qubit", "parameter-shift"),
    }
    try:
        out["PennyLane lightning.qubit adjoint"] = make("lightning.qubit", "adjoint")
    except Exception as exc:  # lightning not installed or not loadable
        print(f"lightning.qubit skipped: {exc}", file=sys.stderr)
    return out


def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes of the tensors autograd saves for backward while ``fn`` builds its graph."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    out.sum().backward()
    return sum(seen.values())


def bench_torch_native(n: int, repeats: int, *, quick: bool = False) -> list[dict]:
    """Forward + backward of the torch-native backends and peers, float64, B = 32."""
    spec = hq.circuits.variational(n_qubits=n, layers=LAYERS)
    x = torch.rand(BATCH, n, dtype=torch.float64)
    weight = torch.rand(spec.n_weights, dtype=torch.float64) * 2 * np.pi
    models: dict[str, torch.nn.Module] = {}
    for gradient in ("backprop", "adjoint"):
        layer = hq.QuantumLayer(spec, backend="torch", gradient=gradient).double()
        with torch.no_grad():
            layer.weight.copy_(weight)
        models[f"hybridqml torch {gradient}"] = layer
    models["hand-written statevector"] = HandWritten(n, LAYERS, weight)
    models["hand-written, real float64 state"] = HandWritten(n, LAYERS, weight, real=True)
    models.update(pennylane_layers(n, weight))

    def run(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xi = x.clone().requires_grad_()
        model.zero_grad()
        y = model(xi)
        y.sum().backward()
        return y.detach(), xi.grad, model.weight.grad

    reference = run(models["hybridqml torch backprop"])
    slow_repeats = 1 if quick else max(3, repeats // 4)  # seconds per run at n = 8
    errors = {}
    for name, model in models.items():
        got = run(model)
        err = max(float((a - b).abs().max()) for a, b in zip(got, reference, strict=True))
        # lightning.qubit's forward values differ by ~2e-8 (its gradients agree to 1e-13)
        if err > (1e-7 if "lightning" in name else 1e-10):
            raise SystemExit(f"{name} disagrees with hybridqml torch backprop by {err:.2e}")
        errors[name] = err
    slow = {name for name in models if "parameter-shift" in name or "lightning" in name}
    # the millisecond-scale methods are timed in alternation: a slow spell of the shared machine
    # then hits every one of them, not just the one being timed at that moment
    seconds = _common.interleaved_median_times(
        {name: (lambda m=model: run(m)) for name, model in models.items() if name not in slow},
        repeats,
        min_seconds=0.2 if quick else PAIRED_SECONDS,
    )
    for name in slow:
        seconds[name] = median_time(lambda m=models[name]: run(m), slow_repeats)
    rows = [
        {
            "qubits": n,
            "method": name,
            "seconds": seconds[name],
            "saved_bytes": saved_tensor_bytes(lambda m=model: m(x.clone().requires_grad_())),
            "max_error": errors[name],
        }
        for name, model in models.items()
    ]
    if "PennyLane default.qubit backprop" not in models:
        rows.append({"qubits": n, "method": "PennyLane", "skipped": "pennylane not importable"})
    return rows


def torch_markdown(rows: list[dict], meta: dict) -> str:
    """The torch-native table: time, ratios to the hand-written and PennyLane backprop rows."""
    head = [
        "qubits",
        "method (forward+backward)",
        "time",
        "vs hand-written",
        "vs PL backprop",
        "autograd-saved bytes",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_n: dict[int, dict[str, dict]] = {}
    for r in rows:
        by_n.setdefault(r["qubits"], {})[r["method"]] = r
    for n, group in by_n.items():
        hand = group["hand-written statevector"]["seconds"]
        pl = group.get("PennyLane default.qubit backprop", {}).get("seconds")
        for name, r in group.items():
            if "skipped" in r:
                lines.append(f"| {n} | {name} | skipped: {r['skipped']} | | | |")
                continue
            t = r["seconds"]
            if not pl:
                speed = "n/a"
            else:
                speed = f"{pl / t:.1f}x faster" if pl >= t else f"{t / pl:.1f}x slower"
            saved = f"{r['saved_bytes']:,}" if r["saved_bytes"] else "n/a (outside autograd)"
            lines.append(
                f"| {n} | {name} | {t * 1e3:.2f} ms | {t / hand:.2f}x | {speed} | {saved} |"
            )
    lines.append("")
    lines.append(
        f"Batch {BATCH}, {LAYERS} layers, ring CNOTs, float64, exact, 1 thread, timed in "
        f"alternation for ~{PAIRED_SECONDS:g} s each (>= {meta['repeats']} rounds, median); "
        f"PennyLane parameter-shift / lightning alone, median of fewer runs; "
        f"{meta['machine']}; load {meta['load']}; torch {meta['torch']}, "
        f"PennyLane {meta.get('pennylane', 'not installed')}; {meta['date']}."
    )
    return "\n".join(lines)


def to_markdown(rows: list[dict], meta: dict) -> str:
    peers = [k for k in rows[0] if k.startswith("TorchConnector")]
    head = ["qubits", "pass", "bindings", "hybridqml", "raw Aer call", "overhead vs raw"]
    head += [f"{p}" for p in peers] + [f"speed-up vs {p.split('(')[1][:-1]}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            str(r["qubits"]),
            r["pass"],
            str(r["bindings"]),
            f"{r['hybridqml_s'] * 1e3:.1f} ms",
            f"{r['raw_aer_s'] * 1e3:.1f} ms",
            f"{r['hybridqml_s'] / r['raw_aer_s']:.2f}x",
        ]
        cells += [f"{r[p] * 1e3:.0f} ms" for p in peers]
        cells += [f"{r[p] / r['hybridqml_s']:.1f}x" for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Batch {BATCH}, {LAYERS} layers, exact, 1 thread; hybridqml and the raw call "
        f"alternate, median of >= {meta['repeats']} rounds filling ~{PAIRED_SECONDS:g} s each, "
        f"peers median of "
        f"{meta['repeats']} runs; "
        f"{meta['machine']}; Python {meta['python']}, torch {meta['torch']}, "
        f"qiskit {meta['qiskit']}, qiskit-aer {meta['qiskit_aer']}, "
        f"qiskit-machine-learning {meta['qiskit_machine_learning']}; {meta['date']}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = _common.parser(__doc__.split("\n")[0])  # --quick, --json, --markdown, --plot
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--qubits", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--no-reference", action="store_true", help="skip StatevectorEstimator")
    parser.add_argument(
        "--torch-only", action="store_true", help="only the torch-native table (no Aer rows)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    qubits, repeats = args.qubits, args.repeats
    if args.quick:  # smoke run: the smallest circuit, the slow reference estimator skipped
        qubits, repeats, args.no_reference = [min(qubits)], 2, True
    import qiskit_machine_learning

    try:
        import pennylane

        pennylane_version = pennylane.__version__
    except ImportError:
        pennylane_version = "not installed"
    meta = {
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "pennylane": pennylane_version,
        "repeats": repeats,
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "qiskit_machine_learning": qiskit_machine_learning.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    rows, torch_rows = [], []
    for n in qubits:
        if not args.torch_only:
            paired = 0.2 if args.quick else PAIRED_SECONDS
            rows.extend(bench_qubits(n, repeats, not args.no_reference, paired_seconds=paired))
        torch_rows.extend(bench_torch_native(n, repeats, quick=args.quick))
        print(f"n={n} done", file=sys.stderr)
    meta["load_after"] = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    table = torch_markdown(torch_rows, meta)
    if rows:
        table = to_markdown(rows, meta) + "\n\n" + table
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "torch_rows": torch_rows}, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    if args.plot:
        plot_torch(torch_rows, args.plot)
    return 0


def plot_torch(rows: list[dict], path: str) -> None:
    """Forward + backward time per method and qubit count (log scale)."""
    timed = [r for r in rows if "seconds" in r]
    methods = list(dict.fromkeys(r["method"] for r in timed))
    qubits = sorted({r["qubits"] for r in timed})
    fig, (ax,) = _common.new_figure(width=8.0, height=4.5)
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        values = {r["qubits"]: r["seconds"] * 1e3 for r in timed if r["method"] == method}
        xs = [j + i * width for j, q in enumerate(qubits) if q in values]
        ax.bar(xs, [values[q] for q in qubits if q in values], width, label=method)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(qubits))], [f"n={q}" for q in qubits])
    ax.set_yscale("log")
    ax.set_ylabel("forward + backward, ms (B=32, float64)")
    ax.legend(fontsize=7, loc="upper left")
    _common.save_figure(fig, path)


if __name__ == "__main__":
    sys.exit(main())
