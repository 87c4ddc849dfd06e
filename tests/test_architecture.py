"""The layout keeps its promises: every import contract holds, and each one catches a violation.

``lint-imports`` checks four contracts (``[tool.importlinter]`` in ``pyproject.toml``): exhaustive
layers (every top-level module in its place, nothing imports upward), independent backend
families, an execution core that imports no backend and no hardware module, and no import cycles
between siblings. For each contract, a violation is planted in a copy of the package and
``lint-imports`` must fail on that contract.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hybridqml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(hybridqml.__file__).resolve().parent
MAX_MODULE_LINES = 450  # issue 22: no module over 450 lines
LAYERS = "Layers (exhaustive)"
INDEPENDENT = "Backend families are independent"
CORE = "The execution core imports no backend"
ACYCLIC = "No import cycles"


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


def broken_contracts(output: str) -> set[str]:
    """Names (prefixes above) of the contracts ``lint-imports`` reported broken."""
    return {
        name
        for name in (LAYERS, INDEPENDENT, CORE, ACYCLIC)
        for line in output.splitlines()
        if line.startswith(name) and line.rstrip().endswith("BROKEN")
    }


def test_import_contracts_are_kept():
    result = lint_imports(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout, result.stdout


def _planted(tmp_path: Path, module: str, text: str) -> subprocess.CompletedProcess:
    copy = tmp_path / "hybridqml"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    if target.exists():
        target.write_text(target.read_text() + f"\n{text}  # planted\n")
    else:
        target.write_text(f'"""Planted."""\n\n{text}  # planted\n')
    return lint_imports(tmp_path)


@pytest.mark.parametrize(
    ("module", "text", "contract"),
    [
        # layers: an upward import
        ("circuits/_spec.py", "import hybridqml.nn._layers", LAYERS),
        ("entropy/_pool.py", "import hybridqml.nn", LAYERS),
        ("gradients.py", "import hybridqml.execution", LAYERS),  # rules are plans
        ("hardware/_devices.py", "import hybridqml.backends.aer", LAYERS),
        ("mitigation/_folding.py", "import hybridqml.execution", LAYERS),  # pure pieces
        # layers, exhaustive: a new top-level module outside every layer
        ("stray.py", "import hybridqml.exceptions", LAYERS),
        # independence: one backend family importing another
        ("backends/aer/_executors.py", "import hybridqml.backends.mixed._density", INDEPENDENT),
        ("backends/torchsim/_plugin.py", "import hybridqml.backends.primitives", INDEPENDENT),
        # the core: importing hardware (allowed by the layers when it sits above) or a backend
        ("execution/_executor.py", "import hybridqml.hardware._joblog", CORE),
        ("execution/_registry.py", "import hybridqml.backends.aer._plugin", CORE),
    ],
)
def test_a_planted_violation_breaks_its_contract(tmp_path, module, text, contract):
    result = _planted(tmp_path, module, text)
    assert result.returncode != 0, result.stdout
    assert contract in broken_contracts(result.stdout), result.stdout


def test_a_planted_cycle_breaks_the_acyclic_contract(tmp_path):
    """Two core modules importing each other: only the cycle contract can see it."""
    copy = tmp_path / "hybridqml"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for module, text in (
        ("execution/_memory.py", "import hybridqml.execution._tracking"),
        ("execution/_tracking.py", "import hybridqml.execution._memory"),
    ):
        target = copy / module
        target.write_text(target.read_text() + f"\n{text}  # planted\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert broken_contracts(result.stdout) == {ACYCLIC}, result.stdout


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


def test_every_backend_family_is_in_the_independence_contract():
    """A new family under hybridqml/backends/ must be declared independent of the others."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "independence"]
    families = {
        f"hybridqml.backends.{p.name}"
        for p in (PACKAGE / "backends").iterdir()
        if (p / "__init__.py").is_file()
    }
    assert families == set(contract["modules"])
