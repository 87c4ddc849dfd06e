"""Regenerate benchmarks/RESULTS.md: run every benchmark script and collect tables and plots.

Usage:
    python benchmarks/run_all.py            # full runs (tens of minutes on a 2-core CPU)
    python benchmarks/run_all.py --quick    # smoke runs of every script, into a temporary folder
    python benchmarks/run_all.py --only layer_benchmark entropy_benchmark
    python benchmarks/run_all.py --quick --out smoke   # smoke runs into ./smoke

Each script writes its Markdown report, JSON and plot into ``OUT/results/``, and ``OUT/RESULTS.md``
gets one section per script with the exact command, followed by the machine, library versions and
date. ``OUT`` is ``benchmarks/`` (the committed ``RESULTS.md`` and ``results/``) for full runs and
``--out`` when given. ``--quick`` numbers are smoke numbers, not results: they never go into
``benchmarks/`` (a new temporary folder unless ``--out`` names another one). Scripts not selected
with ``--only`` keep their previous section (read back from ``OUT/results/<name>.md``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"

#: (script, title, extra arguments of the full run)
SCRIPTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("layer_benchmark", "Layer: hybridqml vs raw Aer, TorchConnector, PennyLane", ()),
    ("peers_benchmark", "Layer throughput vs peers across qubits and batch sizes", ()),
    ("backends_benchmark", "Backends on the same training run", ()),
    ("shots_benchmark", "Finite shots vs exact on noiseless Aer", ()),
    ("entropy_benchmark", "Entropy sources", ()),
    ("noise_benchmark", "Does the noise source matter?", ()),
    ("distributed_benchmark", "Data-parallel training: 1 vs 2 ranks", ()),
    ("compile_benchmark", "torch.compile vs eager", ()),
    (
        "mitigation_benchmark",
        "Error mitigation in training: readout (M3) and ZNE",
        ("--modes", "none", "readout"),
    ),
)


def output_dir(quick: bool, out: str | None) -> Path:
    """The folder that receives ``RESULTS.md`` and ``results/``.

    Args:
        quick: Smoke runs (``--quick``).
        out: The ``--out`` folder, or ``None``.

    Returns:
        ``out`` when given; else a new temporary folder for quick runs and ``benchmarks/`` (the
        committed results) for full runs.

    Raises:
        SystemExit: ``--quick`` with an ``--out`` inside ``benchmarks/``: smoke numbers never
            replace the committed results.
    """
    if out is not None:
        target = Path(out).resolve()
        if quick and (target == HERE or target.is_relative_to(HERE)):
            raise SystemExit(
                f"--quick writes smoke numbers; it never writes into {HERE} (the committed "
                "RESULTS.md and results/): choose an --out outside it"
            )
        return target
    if quick:
        return Path(tempfile.mkdtemp(prefix="hybridqml-benchmarks-quick-"))
    return HERE


def run_script(
    name: str, extra: tuple[str, ...], quick: bool, results_dir: Path
) -> tuple[str, float]:
    """Run one benchmark script, writing its Markdown, plot and JSON into ``results_dir``.

    Returns:
        The command as shown in RESULTS.md and its wall time in seconds.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    md, png, js = (results_dir / f"{name}.{ext}" for ext in ("md", "png", "json"))
    args = [*extra, "--quick"] if quick else list(extra)
    cmd = [sys.executable, str(HERE / f"{name}.py"), *args]
    cmd += ["--markdown", str(md), "--plot", str(png), "--json", str(js)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=HERE)
    shown = " ".join(["python", f"benchmarks/{name}.py", *args])
    return shown, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke runs, never into benchmarks/")
    p.add_argument("--only", nargs="+", choices=[s[0] for s in SCRIPTS])
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write DIR/RESULTS.md and DIR/results/ (default: benchmarks/ for full runs, a new "
        "temporary folder for --quick)",
    )
    args = p.parse_args(argv)
    root = output_dir(args.quick, args.out)
    results_dir, results_md = root / "results", root / "RESULTS.md"
    sections = []
    for name, title, extra in SCRIPTS:
        md, png = results_dir / f"{name}.md", results_dir / f"{name}.png"
        command_file = results_dir / f"{name}.cmd"
        if args.only is None or name in args.only:
            command, seconds = run_script(name, extra, args.quick, results_dir)
            command_file.write_text(f"{command}\n{seconds:.0f}\n")
        if not md.exists():
            sections.append(f"## {title}\n\n_Not run yet: `python benchmarks/{name}.py`._\n")
            continue
        command, seconds = command_file.read_text().splitlines()[:2]
        body = md.read_text().strip()
        body = "\n".join(line for line in body.splitlines() if not line.startswith("## "))
        section = f"## {title}\n\n`{command}` ({int(seconds) // 60} min {int(seconds) % 60} s)\n\n"
        section += body.strip() + "\n"
        if png.exists():
            section += f"\n![{title}](results/{png.name})\n"
        sections.append(section)
    meta = _common.machine_metadata()
    header = [
        "# Benchmark results",
        "",
        "Regenerated by `python benchmarks/run_all.py` (`--only NAME ...` reruns some; "
        "`--quick` smoke runs go to a temporary folder or `--out DIR`, never here). Every number "
        "below was produced by the command shown above its table, on this machine:",
        "",
        _common.metadata_line(meta),
        "",
    ]
    if args.quick:
        header[2:2] = [
            "**Smoke numbers from `--quick` runs (tiny data, one seed or two, few repeats): "
            "they check that the scripts run, they are not results.**",
            "",
        ]
    results_md.write_text("\n".join(header) + "\n" + "\n".join(sections))
    print(f"wrote {results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
