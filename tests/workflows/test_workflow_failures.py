"""Every workflow names its failures: divergence, config field types, early kills."""

from __future__ import annotations

import json
import re

import pytest

from hybridqml.entropy import EntropySettings
from hybridqml.exceptions import ConfigurationError, DivergenceError

SMALL = {
    "textbook": dict(dataset="digits", limit_per_class=8, batch_size=8),
    "noisy-mlp": dict(
        dataset="digits",
        limit_per_class=8,
        batch_size=16,
        entropy=EntropySettings(source="prng", mode="pure"),
    ),
    "qnn": dict(n_samples=40, batch_size=10),
    "gan": dict(
        dataset="digits",
        limit_per_class=6,
        batch_size=20,
        eval_samples=16,
        classifier_epochs=1,
        entropy=EntropySettings(source="prng", mode="pure"),
    ),
}


def _workflow(name):
    from hybridqml.workflows import _registry

    return _registry.get_workflow(name)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_huge_learning_rate_is_a_divergence_error_with_its_note_in_every_workflow(tmp_path, name):
    workflow = _workflow(name)
    config = workflow.config(out_dir=tmp_path, epochs=2, lr=1e308, progress=False, **SMALL[name])
    with pytest.raises(DivergenceError) as info:
        workflow.train(config)
    err = info.value
    assert err.epoch == 1 and err.metrics, err
    assert "--overwrite" in str(err) and "learning rate" in str(err)
    note = json.loads((tmp_path / "metrics.json").read_text())["diverged"]
    assert note["epoch"] == 1 and note["nonfinite"] == list(err.metrics)


class _Killed(BaseException):
    """A SIGKILL stand-in: nothing catches it."""


def _train(out, **config):
    import torch
    from torch.utils.data import TensorDataset

    import hybridqml as hq
    from hybridqml.training import TrainConfig, make_loader, run_epochs

    layer = hq.QuantumLayer(hq.circuits.variational(1, 1))
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)

    def step(batch):
        opt.zero_grad()
        loss = layer(batch[0]).sum()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    return run_epochs(
        config=TrainConfig(epochs=1, out_dir=out, progress=False, **config),
        loader=make_loader(TensorDataset(torch.rand(4, 1)), batch_size=2),
        step=step,
        stateful={"layer": layer, "opt": opt},
    )


def test_a_run_killed_before_its_first_checkpoint_names_overwrite(tmp_path, monkeypatch):
    from hybridqml.runs import Checkpointer

    out = tmp_path / "run"

    def killed(self, **kw):
        raise _Killed  # the first checkpoint is never written

    with monkeypatch.context() as patch:
        patch.setattr(Checkpointer, "save", killed)
        with pytest.raises(_Killed):
            _train(out)
    assert not (out / "checkpoint.pt").exists() and (out / "jobs.jsonl").is_file()
    with pytest.raises(ConfigurationError) as plain:  # the plain command
        _train(out)
    with pytest.raises(ConfigurationError) as resume:
        _train(out, resume=True)
    for err in (plain, resume):
        line = str(err.value)
        assert str(out) in line and "--overwrite" in line and "first checkpoint" in line
    assert "pass --resume" not in str(plain.value) and "drop --resume" not in str(resume.value)
    assert _train(out, overwrite=True).epochs_completed == 1  # the advice works
    assert (out / "checkpoint.pt").is_file()


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("epochs", "3", "epochs must be int, got '3' (a str)"),
        ("epochs", 2.5, "epochs must be int, got 2.5"),
        ("seed", None, "seed must be int, got None"),
        ("batch_size", True, "batch_size must be int, got True (a bool)"),
        ("lr", "0.1", "lr must be float, got '0.1'"),
        ("resume", "yes", "resume must be bool, got 'yes'"),
        ("checkpoint_every", "5", "checkpoint_every must be int | None, got '5'"),
    ],
)
def test_config_field_types_are_checked_with_a_named_error(name, field, value, expected):
    workflow = _workflow(name)
    with pytest.raises(ConfigurationError, match=re.escape(expected)):
        workflow.config(out_dir="x", **{field: value})


def test_workflow_specific_fields_are_type_checked_too():
    from hybridqml.workflows import GANConfig, QNNConfig, TextbookConfig

    with pytest.raises(ConfigurationError, match="n_samples must be int"):
        QNNConfig(out_dir="x", n_samples="100")
    with pytest.raises(ConfigurationError, match="latent_dim must be int"):
        GANConfig(out_dir="x", latent_dim=None)
    with pytest.raises(ConfigurationError, match="digits must be tuple"):
        TextbookConfig(out_dir="x", digits=5)
    assert QNNConfig(out_dir="x", lr=1, epochs=2).lr == 1  # an int learning rate is a number
