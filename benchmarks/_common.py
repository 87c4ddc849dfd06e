"""Shared plumbing for the benchmark scripts: CLI flags, timing, metadata, outputs.

Every script accepts ``--quick`` (a smoke run of under a minute), ``--json OUT``,
``--markdown OUT`` and ``--plot OUT.png``, prints its Markdown report, and records the machine,
library versions and date next to its numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "hybridqml",
    "torch",
    "qiskit",
    "qiskit-aer",
    "qiskit-machine-learning",
    "qiskit-ibm-runtime",
    "pennylane",
    "numpy",
)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    p.add_argument("--json", metavar="OUT", help="write results and metadata as JSON")
    p.add_argument("--markdown", metavar="OUT", help="write the report as Markdown")
    p.add_argument("--plot", metavar="OUT.png", help="write a plot")
    return p


def machine_metadata() -> dict[str, Any]:
    """Machine, library versions, date and load: what a reader needs to weigh the numbers."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on every OS
        load = None
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "processor": platform.processor() or None,
        "python": platform.python_version(),
        "versions": versions,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_average_1min": load,
    }


def metadata_line(meta: dict[str, Any]) -> str:
    """One Markdown line summarizing :func:`machine_metadata`."""
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    load = meta.get("load_average_1min")
    load_text = f"; load average {load:.2f} at start" if load is not None else ""
    return f"_{meta['machine']}; Python {meta['python']}; {versions}; {meta['date']}{load_text}._"


def median_time(fn: Callable[[], object], repeats: int, *, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_median_times(
    fns: Mapping[str, Callable[[], object]],
    repeats: int,
    *,
    min_seconds: float = 1.0,
    warmup: int = 1,
) -> dict[str, float]:
    """Median wall time of each function, timed in alternation so drifts in load hit all alike.

    Fast functions get more rounds: at least ``repeats``, and enough for the slowest of them to
    fill about ``min_seconds`` (a 2 ms call timed 5 times says little on a shared machine).
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    first = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - start
    rounds = max(repeats, math.ceil(min_seconds / max(max(first.values()), 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def table_report(
    title: str,
    description: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    meta: dict[str, Any],
) -> str:
    """A report of one table: its title, what was measured, the table and the machine line."""
    table = markdown_table(headers, rows)
    return "\n".join([f"## {title}", "", description, "", table, "", metadata_line(meta)])


def publish(
    args: argparse.Namespace,
    report: str,
    payload: dict[str, Any],
    plot: Callable[[Any, str], None] | None = None,
) -> int:
    """:func:`emit` the report and payload, draw ``plot(payload["rows"], path)`` if asked; 0."""
    emit(args, report, payload)
    if args.plot and plot is not None:
        plot(payload["rows"], args.plot)
    return 0


def emit(args: argparse.Namespace, report: str, payload: dict[str, Any]) -> None:
    """Print the report and write the requested JSON / Markdown files."""
    print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")


def new_figure(ncols: int = 1, *, width: float = 6.0, height: float = 4.0):
    """A matplotlib figure on the Agg canvas (no display needed) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def save_figure(fig, path: str) -> None:
    """Save a figure as PNG."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
