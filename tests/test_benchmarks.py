"""Every benchmark script runs end to end in --quick mode and writes its report and plot."""

import hashlib
import importlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*_benchmark.py"))


def _import(name: str, monkeypatch):
    """Import a benchmark module (they import ``_common`` from their own folder)."""
    # peers_benchmark sets OMP_NUM_THREADS when unset: keep that out of this process's env
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module(name)


def _check_payload(name: str, payload: dict) -> None:
    """What the quick run of each script must report beyond a table."""
    if name == "backends_benchmark":
        assert all(math.isfinite(r["test_loss"]) for r in payload["rows"])
        assert payload["warm_up_seconds"] > 0
        skipped = " ".join(payload["skipped"])
        assert "ibm:<name>" in skipped and "IBM Quantum account" in skipped
        gpu_ran = any("GPU" in r["backend"] for r in payload["rows"])
        assert gpu_ran or "Aer GPU" in skipped
    elif name == "peers_benchmark" and payload["meta"]["versions"]["pennylane"]:
        methods = {r["method"] for r in payload["by_qubits"] + payload["by_batch"]}
        assert "PennyLane default.qubit parameter-shift" in methods
    elif name == "noise_benchmark":
        # two seeds in --quick mode: too few to call anything significant
        assert payload["comparisons"]
        assert {c["status"] for c in payload["comparisons"]} == {"too few seeds"}
        assert all("Too few seeds" in c["conclusion"] for c in payload["comparisons"])


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
    payload = json.loads(js.read_text())
    assert payload
    _check_payload(name, payload)


def test_backends_lists_gpu_and_ibm_in_quick_mode_too(monkeypatch):
    bench = _import("backends_benchmark", monkeypatch)
    for quick in (True, False):
        monkeypatch.setattr(bench, "gpu_available", lambda: False)
        runs, skipped = bench.cases(quick)
        assert bench.GPU_SKIP_REASON in skipped and bench.IBM_SKIP_REASON in skipped
        assert not any(r.backend.startswith("ibm:") for r in runs)
        monkeypatch.setattr(bench, "gpu_available", lambda: True)
        runs, skipped = bench.cases(quick)
        assert ("device", "GPU") in [o for r in runs for o in r.options]
        assert bench.GPU_SKIP_REASON not in skipped and bench.IBM_SKIP_REASON in skipped


def test_peers_cap_pennylane_parameter_shift_at_the_budget(monkeypatch):
    pytest.importorskip("pennylane")
    peers = _import("peers_benchmark", monkeypatch)
    over: set[str] = set()
    rows = peers.measure(2, 2, 1, 0.0, over)  # every method exceeds a zero budget once
    names = [r["method"] for r in rows]
    assert "PennyLane default.qubit parameter-shift" in names
    assert all("seconds" in r for r in rows) and over == set(names)
    larger = peers.measure(3, 2, 1, 0.0, over)
    assert all(r.get("skipped") == "over budget" for r in larger)


def _snapshot(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def test_run_all_quick_never_targets_the_committed_results(monkeypatch, tmp_path):
    run_all = _import("run_all", monkeypatch)
    assert run_all.output_dir(False, None) == BENCHMARKS
    quick = run_all.output_dir(True, None)
    assert quick.is_dir() and not quick.is_relative_to(BENCHMARKS)
    quick.rmdir()
    assert run_all.output_dir(True, str(tmp_path)) == tmp_path.resolve()
    for inside in (BENCHMARKS, BENCHMARKS / "results"):
        with pytest.raises(SystemExit, match="never writes into"):
            run_all.output_dir(True, str(inside))


def test_run_all_quick_leaves_results_md_untouched(monkeypatch, tmp_path):
    run_all = _import("run_all", monkeypatch)
    committed = [BENCHMARKS / "RESULTS.md", *(BENCHMARKS / "results").glob("*")]
    before = _snapshot(committed)
    ran = []

    def fake_run_script(name, extra, quick, results_dir):
        # stands in for the subprocess: writes what a script writes, where it is told to
        ran.append((name, quick, results_dir))
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / f"{name}.md").write_text(f"## {name}\n\n| a |\n|---|\n| smoke |\n")
        return f"python benchmarks/{name}.py --quick", 1.0

    monkeypatch.setattr(run_all, "run_script", fake_run_script)
    auto = tmp_path / "auto"
    auto.mkdir()
    monkeypatch.setattr(run_all.tempfile, "mkdtemp", lambda **_: str(auto))
    assert run_all.main(["--quick"]) == 0
    assert run_all.main(["--quick", "--only", "entropy_benchmark", "--out", str(tmp_path)]) == 0
    assert _snapshot(committed) == before
    assert {r[2] for r in ran} == {auto / "results", tmp_path.resolve() / "results"}
    assert all(quick for _, quick, _ in ran)
    text = (auto / "RESULTS.md").read_text()
    assert "Smoke numbers" in text and text.count("| smoke |") == len(run_all.SCRIPTS)
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.count("| smoke |") == 1 and "_Not run yet" in text
