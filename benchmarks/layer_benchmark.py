"""Layer benchmark: hybridqml QuantumLayer vs a raw batched Aer call vs qiskit-machine-learning.

Exact simulation, variational circuits (RY encoding, 2 trainable layers, ring CNOTs), batch 32,
one thread everywhere (torch, Aer). For each qubit count it times, median of ``--repeats`` runs:

* ``hybridqml``: ``QuantumLayer(spec, backend="aer")`` forward, and forward + backward
  (parameter-shift for inputs and weights).
* ``raw Aer``: one ``AerSimulator.run`` call with ``parameter_binds`` evaluating the same number
  of bindings (B for forward, B x (1 + 2 x params) for forward + backward) with the same Aer
  options and one ``save_expectation_value`` per observable: the floor any wrapper pays.
* ``TorchConnector``: qiskit-machine-learning's ``EstimatorQNN`` + ``TorchConnector`` on the same
  circuit, with its default reference estimator and with Aer's ``EstimatorV2``.

Before timing, outputs and gradients of hybridqml and TorchConnector are checked equal (to
float32 rounding: TorchConnector returns float32).

Usage:
    python benchmarks/layer_benchmark.py [--quick] [--repeats 5] [--json OUT] [--markdown OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import qiskit
import qiskit_aer
import torch
from qiskit_aer import AerSimulator

import hybridqml as hq

BATCH = 32
LAYERS = 2
AER_OPTIONS = {
    "method": "statevector",
    "runtime_parameter_bind_enable": True,
    "max_parallel_threads": 1,
}


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


def bench_qubits(n: int, repeats: int, with_reference: bool) -> list[dict]:
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
        row = {
            "qubits": n,
            "pass": pass_name,
            "bindings": n_bind,
            "hybridqml_s": median_time(ours, repeats),
            "raw_aer_s": median_time(raw_aer_call(spec, n_bind), repeats),
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
        f"Batch {BATCH}, {LAYERS} layers, exact, 1 thread, median of {meta['repeats']} runs; "
        f"{meta['machine']}; Python {meta['python']}, torch {meta['torch']}, "
        f"qiskit {meta['qiskit']}, qiskit-aer {meta['qiskit_aer']}, "
        f"qiskit-machine-learning {meta['qiskit_machine_learning']}; {meta['date']}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 2, 4 only, 2 repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--qubits", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--no-reference", action="store_true", help="skip StatevectorEstimator")
    parser.add_argument("--json", help="write rows and metadata as JSON")
    parser.add_argument("--markdown", help="write the table as Markdown")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    qubits, repeats = args.qubits, args.repeats
    if args.quick:
        qubits, repeats = [q for q in qubits if q <= 4], 2
    import qiskit_machine_learning

    meta = {
        "repeats": repeats,
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "qiskit_machine_learning": qiskit_machine_learning.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    rows = []
    for n in qubits:
        rows.extend(bench_qubits(n, repeats, with_reference=not args.no_reference))
        print(f"n={n} done", file=sys.stderr)
    table = to_markdown(rows, meta)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
