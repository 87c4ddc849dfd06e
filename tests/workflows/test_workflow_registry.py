"""A new workflow is one module plus one registry entry; the CLI and demo follow from it."""

import dataclasses
import json
import sys
import textwrap

import pytest

from hybridqml.cli import main
from hybridqml.cli._train import TRAIT_OPTIONS
from hybridqml.exceptions import ConfigurationError
from hybridqml.runs import RESUME_MUTABLE_FIELDS
from hybridqml.workflows import _registry as registry
from hybridqml.workflows._base import SHARED_OPTIONS

TOY_MODULE = '''
"""A toy workflow written the way a contributor adds one."""
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from hybridqml.workflows._base import Option, Workflow


@dataclass(frozen=True, kw_only=True)
class ToyConfig:
    out_dir: str
    epochs: int = 3
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    batch_size: int = 8
    lr: float = 0.1
    progress: bool = True
    backend: str = "aer"
    shots: int | None = None
    backend_options: dict | None = None
    scale: float = 1.0


@dataclass(frozen=True)
class ToyResult:
    value: float


def train_toy(config):
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    value = config.scale * config.epochs
    (out / "seen.json").write_text(json.dumps({"backend": config.backend, "shots": config.shots,
                                               "lr": config.lr, "value": value}))
    return ToyResult(value)


WORKFLOW = Workflow(
    name="toy",
    help="a toy workflow",
    config=ToyConfig,
    train=train_toy,
    traits=frozenset({"quantum"}),
    options=(Option("--scale", "scale", {"type": float}),),
    summary=lambda r: f"toy: value {r.value}",
    headline=lambda r: {"value": r.value},
    demo={"epochs": 2},
)
'''


@pytest.fixture
def toy_workflow(tmp_path, monkeypatch):
    (tmp_path / "toy_workflow.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.register_workflow("toy", "toy_workflow")
    yield
    del registry.WORKFLOW_MODULES["toy"]
    registry._loaded.pop("toy", None)
    sys.modules.pop("toy_workflow", None)


def test_a_registered_workflow_gets_a_train_command(toy_workflow, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", "toy", "--out", str(out), "--scale", "2.5", "--epochs", "4", "--shots", "9"]
    )
    assert code == 0
    seen = json.loads((out / "seen.json").read_text())
    assert seen == {"backend": "aer", "shots": 9, "lr": 0.1, "value": 10.0}  # lr: config default
    assert "toy: value 10.0" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a trait the toy lacks: no --entropy option
        main(["train", "toy", "--out", str(out), "--entropy", "os"])


def test_the_demo_runs_every_registered_workflow(toy_workflow, tmp_path, monkeypatch):
    ran = []
    for name in ("textbook", "noisy-mlp", "qnn", "gan"):  # the real ones are tested elsewhere
        workflow = registry.get_workflow(name)

        def train(config, name=name, workflow=workflow):
            assert isinstance(config, workflow.config)  # demo settings built a valid config
            ran.append(name)

        fake = dataclasses.replace(workflow, train=train, headline=lambda result: {})
        monkeypatch.setitem(registry._loaded, name, fake)
    code = main(["demo", "--out", str(tmp_path / "demo"), "--no-progress"])
    assert code == 0
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert ran == ["textbook", "noisy-mlp", "qnn", "gan"]
    assert summary["toy"]["value"] == 2.0  # the toy's demo settings: epochs 2, scale 1


LINE_MODULE = '''
"""A workflow on the shared loop: a config extending RunConfig, a Trainer, a descriptor."""
from dataclasses import dataclass

import torch

from hybridqml.data import load_circles
from hybridqml.runs import RunConfig
from hybridqml.workflows._base import Option, Workflow
from hybridqml.workflows._trainer import RunResult, Trainer


@dataclass(frozen=True, kw_only=True)
class LineConfig(RunConfig):
    n_samples: int = 60


@dataclass(frozen=True, kw_only=True)
class LineResult(RunResult):
    loss: float


class _Line(Trainer):
    name, result_type = "line", LineResult

    def load_data(self):
        return load_circles(n_samples=self.config.n_samples, seed=self.config.seed)

    def build(self):
        self.model = torch.nn.Linear(2, 2)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=self.config.lr)
        return {"model": self.model, "optimizer": self.opt}

    def step(self, batch):
        self.opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(batch[0]), batch[1])
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def outcome(self, fit):
        return {"loss": fit.final["loss"]}


WORKFLOW = Workflow(
    name="line",
    help="a linear classifier on circles",
    config=LineConfig,
    train=_Line.train,
    options=(Option("--samples", "n_samples", {"type": int}),),
    summary=lambda r: f"line: loss {r.loss:.3f}",
    headline=lambda r: {"loss": r.loss},
)
'''


@pytest.fixture
def line_workflow(tmp_path, monkeypatch):
    (tmp_path / "line_workflow.py").write_text(LINE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.register_workflow("line", "line_workflow")
    yield registry.get_workflow("line")
    del registry.WORKFLOW_MODULES["line"]
    registry._loaded.pop("line", None)
    sys.modules.pop("line_workflow", None)


def test_a_workflow_on_the_shared_loop_gets_folder_checkpoints_and_resume(
    line_workflow, tmp_path, capsys
):
    assert line_workflow.traits == frozenset()  # derived: LineConfig extends RunConfig only
    out = tmp_path / "run"
    argv = ["train", "line", "--out", str(out), "--samples", "40", "--no-progress"]
    assert main([*argv, "--epochs", "1"]) == 0
    assert "line: loss" in capsys.readouterr().out
    assert main([*argv, "--epochs", "1"]) == 1  # the folder holds a run: refused
    assert main([*argv, "--epochs", "2", "--resume"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["workflow"] == "line" and metrics["epochs_completed"] == 2
    assert metrics["config"]["n_samples"] == 40 and metrics["n_train"] + metrics["n_test"] == 40
    capsys.readouterr()
    other = ["train", "line", "--out", str(out), "--samples", "50", "--no-progress"]
    assert main([*other, "--epochs", "3", "--resume"]) == 1
    assert "n_samples: checkpoint 40, now 50" in capsys.readouterr().err


def test_registry_errors_name_the_choices():
    with pytest.raises(ConfigurationError, match=r"unknown workflow 'nope'.*textbook"):
        registry.get_workflow("nope")
    with pytest.raises(ConfigurationError, match="registered already"):
        registry.register_workflow("qnn", "anything")


@pytest.mark.parametrize("name", registry.workflow_names())
def test_every_workflow_config_has_the_shared_fields_of_its_traits(name):
    workflow = registry.get_workflow(name)
    fields = set(workflow.config.__dataclass_fields__)
    for trait in ("run", *workflow.traits):
        assert set(SHARED_OPTIONS[trait]) <= fields, (name, trait)
    for option in [
        *workflow.options,
        *(o for t in workflow.traits for o in TRAIT_OPTIONS.get(t, ())),
    ]:
        assert option.field in fields, (name, option.flag)
    assert workflow.resume_mutable <= fields
    assert workflow.all_resume_mutable >= RESUME_MUTABLE_FIELDS
    workflow.make_config(out_dir="x", **workflow.demo)  # the demo settings are valid
