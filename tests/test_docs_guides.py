"""The porting guide's code runs, and it keeps the warnings users need (issue 15)."""

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "porting.md"
TEXT = GUIDE.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def test_guide_is_one_page_with_examples():
    prose = re.sub(r"```.*?```", "", TEXT, flags=re.S)
    assert len(re.findall(r"^# ", prose, flags=re.M)) == 1
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_guide_python_block_runs(index):
    exec(compile(BLOCKS[index], f"porting.md block {index}", "exec"), {})


def test_guide_says_the_default_observables_differ_and_warns_about_lbfgs():
    warning = re.search(r"```\{warning\}\n(.*?)```", TEXT, flags=re.S)
    assert warning and "one output per qubit" in warning.group(1)
    assert "Z⊗Z" in warning.group(1)
    assert "LBFGS" in TEXT and "Adam" in TEXT
