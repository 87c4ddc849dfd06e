"""Every workflow names its failures: divergence, config field types, early kills."""

from __future__ import annotations

import json

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
