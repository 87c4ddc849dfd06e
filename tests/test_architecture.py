"""The layout keeps its promises: the import contract holds, and it catches an upward import."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hybridqml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(hybridqml.__file__).resolve().parent
MAX_MODULE_LINES = 470  # the issue's ~450, with room for a docstring


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [str(exe), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contract_is_kept():
    result = lint_imports(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("circuits/spec.py", "import hybridqml.nn.layers"),  # circuits reaching up to nn
        ("entropy/_pool.py", "import hybridqml.nn"),  # entropy must stay independent of nn
        ("gradients.py", "import hybridqml.backends"),  # rules are plans, never execution
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path, module, upward):
    copy = tmp_path / "hybridqml"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{upward}  # planted\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout


def test_modules_stay_small():
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    too_big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_big, f"modules over {MAX_MODULE_LINES} lines: {too_big}"


def test_import_hybridqml_loads_neither_torch_nor_qiskit():
    code = "import sys, hybridqml; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert "torch" not in out and "qiskit" not in out, out
