"""The ported tutorials run (small settings) and are sphinx-gallery scripts (issue 15)."""

import re
import runpy

import pytest
from workflow_testing import REPO_ROOT

PORTS = ("port_qiskit_ml", "port_pennylane")


@pytest.mark.parametrize("name", PORTS)
def test_ported_tutorial_runs_and_writes_only_to_a_temp_dir(name, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HYBRIDQML_EXAMPLES_QUICK", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # tempfile.mkdtemp() lands here
    monkeypatch.chdir(tmp_path)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    runpy.run_path(str(REPO_ROOT / "examples" / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    figures = sorted(tmp_path.rglob("*.png"))
    assert len(figures) == 1 and figures[0].stat().st_size > 10_000
    assert [p for p in tmp_path.iterdir() if p.is_file()] == []  # nothing in the working dir
    if name == "port_pennylane":
        assert float(re.search(r"accuracy (\d+\.\d)%", out).group(1)) > 70  # three epochs
    else:
        assert "regression: loss" in out


@pytest.mark.parametrize("name", PORTS)
def test_ported_tutorial_is_a_sphinx_gallery_script(name):
    text = (REPO_ROOT / "examples" / f"{name}.py").read_text()
    title = re.match(r'"""\n(.+)\n(=+)\n\n\S', text)
    assert title and len(title.group(2)) >= len(title.group(1))
    assert text.count("\n# %%\n") >= 3
