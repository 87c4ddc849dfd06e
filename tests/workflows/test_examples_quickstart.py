import re
import runpy

from workflow_testing import REPO_ROOT


def test_quickstart_example_runs_and_its_loss_goes_down(capsys):
    runpy.run_path(str(REPO_ROOT / "examples" / "quickstart.py"), run_name="__main__")
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", capsys.readouterr().out)]
    assert len(losses) >= 3
    assert losses[-1] < losses[0]


def test_every_workflow_has_an_example():
    for name in ("textbook", "noisy_mlp", "qnn", "gan", "quickstart"):
        assert (REPO_ROOT / "examples" / f"{name}.py").is_file()
