"""Noisy training speed: PennyLane default.mixed vs hybridqml's Aer noisy path vs the torch engine.

Part 1 (issue 23's case), in one run, one thread (``torch.set_num_threads(1)``): batch 32, RY
angle encoding + 2 layers of trainable RY and a CNOT ring, a 1% depolarizing channel after every
gate (the same Kraus operators everywhere: Qiskit's ``depolarizing_error(0.01, k)``), <Z_i> per
qubit, exact (no shots), forward + backward (inputs and weights):

* PennyLane ``default.mixed``, ``diff_method="backprop"``, torch interface, broadcast batch;
* hybridqml ``backend="aer"`` with that ``noise_model`` (the existing exact noisy path: numpy
  density-matrix blocks up to 6 qubits, Aer's density matrix beyond; parameter shift);
* hybridqml ``backend="torch"`` with that ``noise_model`` (the new engine; backprop).

Every method's outputs are checked against the torch engine's (max abs difference reported).
A method whose previous (smaller) size took longer than ``--budget`` seconds per call is skipped.

Part 2: one training epoch of the QNN workflow's model (``HybridQNN``, the workflow's default 4
qubits unless ``--qnn-qubits``, 2 layers, 256 points, batch 32, Adam) on ``fake_manila``:
``backend="fake_manila"`` (the existing path) vs ``backend="torch",
backend_options={"device": "fake_manila"}`` (the new engine).

Usage:
    python benchmarks/noisy_torch_benchmark.py [--quick] [--qubits 2 4 6 8 10] [--repeats 3]
        [--budget 60] [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import sys
import time

import _common
import numpy as np
import torch

BATCH = 32
LAYERS = 2
P_DEPOL = 0.01


def noise_model():
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(P_DEPOL, 1), ["ry"])
    noise.add_all_qubit_quantum_error(depolarizing_error(P_DEPOL, 2), ["cx"])
    return noise


def _kraus(k: int) -> list[np.ndarray]:
    from qiskit.quantum_info import Kraus
    from qiskit_aer.noise import depolarizing_error

    return [np.asarray(m) for m in Kraus(depolarizing_error(P_DEPOL, k).to_quantumchannel()).data]


def pennylane_step(n: int):
    """Forward + backward on default.mixed (backprop); ``None`` if PennyLane is missing."""
    try:
        import pennylane as qml
    except ImportError:
        return None
    dev = qml.device("default.mixed", wires=n)
    k1, k2 = _kraus(1), _kraus(2)
    pairs = [(q, (q + 1) % n) for q in range(n)] if n > 2 else [(0, 1)]

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(x, w):
        for q in range(n):
            qml.RY(x[..., q], wires=q)
            qml.QubitChannel(k1, wires=q)
        for layer in range(LAYERS):
            for q in range(n):
                qml.RY(w[layer * n + q], wires=q)
                qml.QubitChannel(k1, wires=q)
            for a, b in pairs:
                qml.CNOT(wires=[a, b])
                # Qiskit's kron order: matrix index = 2 * bit(b) + bit(a); PennyLane's: a first
                qml.QubitChannel(k2, wires=[b, a])
        return [qml.expval(qml.PauliZ(q)) for q in range(n)]

    def step(x, w):
        out = torch.stack(circuit(x, w), dim=-1)
        out.sum().backward()
        return out.detach()

    return step


def hybridqml_step(n: int, backend: str):
    import hybridqml as hq

    layer = hq.QuantumLayer(
        hq.circuits.variational(n, LAYERS),
        backend=backend,
        backend_options={"noise_model": noise_model()},
    ).double()

    def step(x, w):
        with torch.no_grad():
            layer.weight.copy_(w)
        layer.zero_grad()
        out = layer(x)
        out.sum().backward()
        return out.detach()

    return step


def part1(qubits, repeats, budget, methods=("torch", "aer", "pennylane"), once_over=None):
    """Times per qubit count; a method whose first call took over ``once_over`` seconds is
    timed by that one call (marked in the results) instead of ``repeats`` more."""
    rows, results = [], []
    skip: dict[str, bool] = {}
    for n in qubits:
        rng = np.random.default_rng(n)
        x0 = torch.as_tensor(rng.uniform(-np.pi, np.pi, (BATCH, n)))
        w0 = torch.as_tensor(rng.uniform(-np.pi, np.pi, LAYERS * n))
        steps = {"torch engine (backprop)": hybridqml_step(n, "torch")}
        if "aer" in methods:
            steps["hybridqml aer + noise_model (shift)"] = hybridqml_step(n, "aer")
        pl = pennylane_step(n) if "pennylane" in methods else None
        if pl is not None:
            steps["PennyLane default.mixed (backprop)"] = pl
        steps = {k: v for k, v in steps.items() if not skip.get(k)}

        def call(fn, x0=x0, w0=w0):
            x = x0.clone().requires_grad_()
            w = w0.clone().requires_grad_()
            return fn(x, w)

        reference = call(steps["torch engine (backprop)"])
        diffs, first = {}, {}
        for k, fn in steps.items():
            begin = time.perf_counter()
            diffs[k] = float((call(fn) - reference).abs().max())
            first[k] = time.perf_counter() - begin
        once = {k for k, t in first.items() if once_over is not None and t > once_over}
        repeated = {k: (lambda fn=fn: call(fn)) for k, fn in steps.items() if k not in once}
        times = {k: first[k] for k in once}
        if repeated:
            times |= _common.interleaved_median_times(repeated, repeats, warmup=0)
        for k, t in times.items():
            skip[k] = t > budget
        new = times["torch engine (backprop)"]
        result = {"qubits": n, "seconds": times, "max_abs_diff": diffs, "one_call": sorted(once)}
        results.append(result)
        pl_key = "PennyLane default.mixed (backprop)"
        pl_t = times.get(pl_key)
        aer_t = times.get("hybridqml aer + noise_model (shift)")
        rows.append(
            [
                n,
                (f"{pl_t * 1e3:,.0f}" + (" (1 call)" if pl_key in once else ""))
                if pl_t
                else "skipped",
                f"{aer_t * 1e3:,.0f}" if aer_t else "skipped",
                f"{new * 1e3:,.1f}",
                f"{pl_t / new:.1f}x" if pl_t else "-",
                f"{aer_t / new:.1f}x" if aer_t else "-",
                f"{max(diffs.values()):.1e}",
            ]
        )
        print(f"qubits {n}: {times}", file=sys.stderr, flush=True)
    return rows, results


def part2(repeats, samples, n_qubits):
    from hybridqml.workflows._qnn import HybridQNN

    rng = np.random.default_rng(0)
    points = torch.as_tensor(rng.uniform(-1, 1, (samples, 2)), dtype=torch.float32)
    labels = (points.norm(dim=1) > 0.6).long()
    settings = {
        "fake_manila (existing path)": {"backend": "fake_manila"},
        "torch + device=fake_manila (new)": {
            "backend": "torch",
            "backend_options": {"device": "fake_manila"},
        },
    }
    models = {}
    for name, options in settings.items():
        torch.manual_seed(0)
        models[name] = HybridQNN(n_qubits=n_qubits, layers=2, **options)

    def epoch(model):
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for i in range(0, samples, BATCH):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                model(points[i : i + BATCH]), labels[i : i + BATCH]
            )
            loss.backward()
            opt.step()
        return float(loss.detach())

    times = _common.interleaved_median_times(
        {k: (lambda m=m: epoch(m)) for k, m in models.items()}, repeats, warmup=1
    )
    return times


def plot(results, path):
    fig, (ax,) = _common.new_figure(1)
    methods = sorted({k for r in results for k in r["seconds"]})
    for m in methods:
        pts = [(r["qubits"], r["seconds"][m]) for r in results if m in r["seconds"]]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=m)
    ax.set_yscale("log")
    ax.set_xlabel("qubits")
    ax.set_ylabel("forward + backward, batch 32 (s)")
    ax.legend()
    _common.save_figure(fig, path)


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--qubits", type=int, nargs="*", default=[2, 4, 6, 8, 10])
    p.add_argument(
        "--qnn-qubits",
        type=int,
        default=None,
        help="qubits of the QNN epoch (part 2; default: the qnn workflow's default)",
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--budget", type=float, default=60.0, help="skip bigger sizes above (s)")
    p.add_argument("--samples", type=int, default=256, help="QNN training points (part 2)")
    p.add_argument(
        "--methods",
        nargs="+",
        choices=("torch", "aer", "pennylane"),
        default=["torch", "aer", "pennylane"],
        help="what to time besides the torch engine",
    )
    p.add_argument(
        "--once-over",
        type=float,
        default=None,
        help="a method whose first call takes longer (s) is timed by that call alone",
    )
    p.add_argument("--no-qnn", action="store_true", help="skip part 2 (the QNN epoch)")
    args = p.parse_args()
    if args.quick:
        args.qubits, args.repeats, args.samples = [2, 3], 1, 64
        args.qnn_qubits = args.qnn_qubits or 2
    from hybridqml.workflows._qnn import DEFAULT_QNN_QUBITS

    qnn_qubits = args.qnn_qubits or DEFAULT_QNN_QUBITS
    torch.set_num_threads(1)
    meta = _common.machine_metadata()
    start = time.perf_counter()
    rows, results = part1(args.qubits, args.repeats, args.budget, args.methods, args.once_over)
    epoch = {} if args.no_qnn else part2(args.repeats, args.samples, qnn_qubits)
    old = epoch.get("fake_manila (existing path)", float("nan"))
    new = epoch.get("torch + device=fake_manila (new)", float("nan"))
    report = "\n".join(
        [
            "## Noisy training: the torch density-matrix engine (issue 23)",
            "",
            _common.metadata_line(meta),
            "",
            f"One thread; batch {BATCH}; RY encoding + {LAYERS} layers of trainable RY and a CNOT "
            f"ring; {P_DEPOL:.0%} depolarizing after every gate; <Z_i>; exact; forward + "
            f"backward (inputs and weights); median of {args.repeats}+ interleaved calls (ms). "
            "The machine was shared with other jobs: absolute times are noisy, ratios within a "
            "row were measured in the same interleaved rounds.",
            "",
            _common.markdown_table(
                [
                    "qubits",
                    "PennyLane default.mixed (ms)",
                    "hybridqml aer + noise_model (ms)",
                    "torch engine (ms)",
                    "vs default.mixed",
                    "vs aer",
                    "max abs diff",
                ],
                rows,
            ),
        ]
    )
    if epoch:
        report += (
            f"\n\nQNN training epoch on fake_manila (HybridQNN {qnn_qubits} qubits, 2 layers, "
            f"{args.samples} points, batch {BATCH}): existing path {old:.2f} s, torch engine "
            f"{new:.2f} s ({old / new:.1f}x faster)."
        )
    payload = {
        "metadata": meta,
        "qnn_qubits": qnn_qubits,
        "part1": results,
        "qnn_epoch_seconds": epoch,
        "total_seconds": time.perf_counter() - start,
    }
    _common.emit(args, report, payload)
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
