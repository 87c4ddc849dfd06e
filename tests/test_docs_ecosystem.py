"""The ecosystem guide's code runs (the MLflow block against a stand-in ``mlflow`` module)."""

import re
import sys
import types
from pathlib import Path

import pytest
import torch

from hybridqml.training import TrainConfig, run_epochs

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "pytorch_ecosystem.md"
TEXT = GUIDE.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def test_the_callback_block_runs_and_prints_every_second_step(capsys):
    (block,) = [b for b in BLOCKS if "class PrintEvery" in b]
    exec(compile(block, "pytorch_ecosystem.md", "exec"), {})
    out = capsys.readouterr().out
    # 3 epochs of 2 batches: global steps 2, 4 and 6 are printed, then the end
    assert re.findall(r"^step (\d+):", out, flags=re.M) == ["2", "4", "6"]
    assert "done after 3 epochs" in out


class _FakeMLflow(types.ModuleType):
    """Records the calls the guide's MLflowLogger makes (mlflow is not a test dependency)."""

    def __init__(self):
        super().__init__("mlflow")
        self.calls = []
        for name in (
            "set_tracking_uri",
            "set_experiment",
            "start_run",
            "log_metrics",
            "log_params",
            "log_artifact",
            "log_dict",
            "end_run",
        ):
            setattr(self, name, self._recorder(name))

    def _recorder(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))

        return record


def test_the_mlflow_block_logs_every_step_and_epoch(monkeypatch, tmp_path):
    (block,) = [b for b in BLOCKS if "class MLflowLogger" in b]
    fake = _FakeMLflow()
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    namespace = {}
    exec(compile(block, "pytorch_ecosystem.md", "exec"), namespace)
    logger = namespace["MLflowLogger"](tracking_dir=str(tmp_path / "mlruns"))
    model = torch.nn.Linear(1, 1)
    run_epochs(
        config=TrainConfig(epochs=2, progress=False, callbacks=(logger,)),
        loader=[torch.ones(2, 1)] * 3,
        step=lambda batch: {"loss": model(batch).pow(2).mean().item()},
        stateful={"model": model},
    )
    names = [c[0] for c in fake.calls]
    assert fake.calls[0] == ("set_tracking_uri", (f"file:{tmp_path / 'mlruns'}",), {})
    steps = [c[2]["step"] for c in fake.calls if c[0] == "log_metrics" and "step_loss" in c[1][0]]
    assert steps == [1, 2, 3, 4, 5, 6]  # 2 epochs x 3 batches
    epochs = [c[2]["step"] for c in fake.calls if c[0] == "log_metrics" and "loss" in c[1][0]]
    assert epochs == [3, 6]
    assert names[-1] == "end_run"


@pytest.mark.parametrize("name", ["tensorboard", "lightning"])
def test_the_extras_the_guide_names_exist(name):
    import tomllib

    pyproject = tomllib.loads((GUIDE.parents[2] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert any(req.startswith(name) for req in extras[name])
    assert any(req.startswith(name) for req in extras["dev"])  # so CI runs their tests
    assert f"hybridqml[{name}]" in TEXT
