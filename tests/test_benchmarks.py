"""Every benchmark script runs end to end in --quick mode and writes its report and plot."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*_benchmark.py"))


def test_scripts_found():
    assert {"layer_benchmark", "backends_benchmark", "entropy_benchmark", "noise_benchmark"} <= set(
        SCRIPTS
    )


@pytest.mark.parametrize("name", SCRIPTS)
def test_quick_run_writes_outputs(name, tmp_path):
    md, png, js = tmp_path / "out.md", tmp_path / "out.png", tmp_path / "out.json"
    cmd = [sys.executable, str(BENCHMARKS / f"{name}.py"), "--quick"]
    cmd += ["--markdown", str(md), "--plot", str(png), "--json", str(js)]
    proc = subprocess.run(cmd, cwd=BENCHMARKS, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "|---|" in md.read_text()  # a Markdown table
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(js.read_text())
