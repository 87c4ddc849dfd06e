"""README.md's code runs, and CI runs exactly README.md's test command."""

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

README = (REPO_ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_python_examples():
    assert len(PYTHON_BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs(index, capsys):
    exec(compile(PYTHON_BLOCKS[index], f"README.md block {index}", "exec"), {})


@pytest.mark.parametrize("marker", ["test-command", "docs-command"])
def test_ci_runs_the_readme_commands(marker):
    marked = re.search(rf"<!-- {marker} -->\s*```\n(.*?)\n```", README, flags=re.S)
    assert marked, f"README.md lost its {marker} block"
    script = REPO_ROOT / ".ci" / "run"
    # the function .ci/run uses to read a command out of README.md, called as .ci/run calls it
    extracted = subprocess.run(
        [
            "bash",
            "-c",
            f"source <(sed -n '/^readme_command()/,/^}}$/p' {script}) && readme_command {marker}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    ).stdout.strip()
    assert extracted == marked.group(1).strip()
    assert f"readme_command {marker})" in script.read_text()


RESULTS = (REPO_ROOT / "benchmarks" / "RESULTS.md").read_text()
QUOTED = re.findall(
    r"<!-- from benchmarks/RESULTS.md -->\n(.*?)<!-- /from benchmarks/RESULTS.md -->",
    README,
    flags=re.S,
)
NUMBER = re.compile(r"(?<![\w.\-])\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def test_readme_quotes_its_measured_numbers_from_results_md():
    # one source: every number in the README's measured-results blocks is in RESULTS.md as is
    assert len(QUOTED) >= 4, "README.md lost its blocks quoting benchmarks/RESULTS.md"
    known = _numbers(RESULTS)
    for block in QUOTED:
        missing = sorted(_numbers(block) - known)
        assert not missing, f"README numbers not in benchmarks/RESULTS.md: {missing}"


def test_the_results_check_catches_a_drifted_number():
    drifted = QUOTED[0].replace("2.5 ms", "2.55 ms", 1)
    assert "2.55" in _numbers(drifted) - _numbers(RESULTS)


def _signature(cls) -> str:
    """``hq.Name(arg, *, key=default, ...)`` from the code: names and defaults, no annotations."""
    import inspect

    parts, star = [], False
    for name, param in inspect.signature(cls).parameters.items():
        if param.kind is param.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        if param.kind is param.VAR_KEYWORD:
            parts.append(f"**{name}")
        elif param.default is param.empty:
            parts.append(name)
        else:
            parts.append(f"{name}={param.default!r}")
    return f"hq.{cls.__name__}({', '.join(parts)})"


def test_readme_quantum_layer_signature_is_the_codes():
    import hybridqml as hq

    marked = re.search(r"<!-- signature -->\n`(.*?)`\n<!-- /signature -->", README)
    assert marked, "README.md lost its QuantumLayer signature block"
    assert marked.group(1) == _signature(hq.QuantumLayer)
