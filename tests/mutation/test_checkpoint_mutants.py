"""Checkpointer: what is saved comes back, and what is refused is refused before restoring."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from _mutmut import reported_at
from torch import nn

from hybridqml.exceptions import CheckpointError, ConfigurationError
from hybridqml.runs import _checkpoint as ck


class Noisy(nn.Module):
    """A submodule with its own generator state (like a QuantumLayer's shot seeds)."""

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.lin = nn.Linear(1, 1)

    def random_state(self):
        return self.state

    def set_random_state(self, state):
        self.state = state


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


def test_save_and_load_restore_objects_history_settings_and_rng(tmp_path):
    model = nn.Linear(2, 1)
    user = ck.UserState(best=0.5)
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={"model": model, "user": user})
    assert cp.path == tmp_path / "c.pt" and not cp.exists()
    saved = weights(model)
    torch.manual_seed(3)
    random.seed(4)
    np.random.seed(5)
    returned = cp.save(
        epoch=4,
        history=[{"loss": 1.0}, {"loss": 0.5}],
        seed=11,
        extra={"note": "x"},
        config={"lr": 0.1},
    )
    assert returned == tmp_path / "c.pt" and cp.exists()
    after_save = (torch.rand(2), random.random(), np.random.rand())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    user["best"] = 0.9
    user["other"] = 1
    got = cp.load()
    assert got == ck.Checkpoint(
        epoch=4,
        seed=11,
        history=({"loss": 1.0}, {"loss": 0.5}),
        extra={"note": "x"},
        config={"lr": 0.1},
    )
    assert all(torch.equal(a, b) for a, b in zip(weights(model), saved, strict=True))
    assert dict(user) == {"best": 0.5}
    assert torch.equal(torch.rand(2), after_save[0])
    assert random.random() == after_save[1] and np.random.rand() == after_save[2]


def test_load_without_rng_leaves_the_generators_alone(tmp_path):
    model = Noisy({"seed": 1})
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={"m": model})
    cp.save(epoch=1)
    model.state = {"seed": 2}
    torch.manual_seed(77)
    got = cp.load(restore_rng=False)
    assert got.config is None and got.seed is None and got.history == () and got.extra == {}
    assert torch.equal(torch.rand(1), torch.rand(1, generator=torch.Generator().manual_seed(77)))
    assert model.state == {"seed": 2}  # module generators are RNG state too
    cp.load()
    assert model.state == {"seed": 1}


def test_module_generators_are_saved_by_submodule_path_and_empty_ones_skipped(tmp_path):
    outer = nn.Sequential(Noisy({"a": 1}), Noisy(None), nn.Linear(1, 1))
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={"net": outer, "u": ck.UserState()})
    assert ck._module_random_states(outer) == {"0": {"a": 1}}
    assert ck._module_random_states(ck.UserState()) == {}
    cp.save(epoch=2)
    outer[0].state = {"a": 9}
    outer[1].state = {"b": 5}
    cp.load()
    assert outer[0].state == {"a": 1}
    assert outer[1].state == {"b": 5}  # had nothing saved: untouched
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    assert payload["module_rng"] == {"net": {"0": {"a": 1}}, "u": {}}


def test_a_refusing_check_sees_the_stored_values_and_nothing_is_restored(tmp_path):
    model = nn.Linear(1, 1)
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={"model": model})
    cp.save(epoch=3, seed=8, config={"a": 1})
    with torch.no_grad():
        model.weight.fill_(42.0)
    seen = []

    def check(found):
        seen.append(found)
        raise ConfigurationError("different run")

    with pytest.raises(ConfigurationError, match="different run"):
        cp.load(check=check)
    assert seen[0].epoch == 3 and seen[0].seed == 8 and seen[0].config == {"a": 1}
    assert model.weight.item() == 42.0


def test_other_object_names_are_refused(tmp_path):
    ck.Checkpointer(path=tmp_path / "c.pt", objects={"model": nn.Linear(1, 1)}).save(epoch=1)
    other = ck.Checkpointer(path=tmp_path / "c.pt", objects={"net": nn.Linear(1, 1)})
    with pytest.raises(ConfigurationError) as info:
        other.load()
    assert str(info.value) == (
        f"checkpoint {str(tmp_path / 'c.pt')!r} holds ['model'], expected ['net']"
    )


def test_an_object_of_another_shape_is_named(tmp_path):
    ck.Checkpointer(path=tmp_path / "c.pt", objects={"model": nn.Linear(1, 1)}).save(epoch=1)
    other = ck.Checkpointer(path=tmp_path / "c.pt", objects={"model": nn.Linear(2, 1)})
    with pytest.raises(ConfigurationError, match=r"^cannot restore 'model' from '.*c\.pt': "):
        other.load()


def test_objects_without_state_are_refused_at_construction(tmp_path):
    with pytest.raises(ConfigurationError) as info:
        ck.Checkpointer(path=tmp_path / "c.pt", objects={"model": nn.Linear(1, 1), "n": 3})
    assert str(info.value) == "object 'n' (int) has no state_dict/load_state_dict"


@pytest.mark.parametrize("payload", [[1, 2], {"format": 2, "epoch": 1}, {"epoch": 1}])
def test_a_foreign_file_is_not_a_checkpoint(tmp_path, payload):
    torch.save(payload, tmp_path / "c.pt")
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={})
    with pytest.raises(CheckpointError) as info:
        cp.load()
    assert str(info.value).startswith(f"{str(tmp_path / 'c.pt')!r} is not a hybridqml checkpoint.")
    assert "--overwrite" in str(info.value)
    assert info.value.path == tmp_path / "c.pt"


def _save_edited(payload, path):
    """Write an edited payload with a valid checksum (an incomplete file, not a corrupt one)."""
    from hybridqml.runs._digest import DIGEST_KEY, payload_digest

    payload[DIGEST_KEY] = payload_digest(payload)
    torch.save(payload, path)


@pytest.mark.parametrize("missing", ["epoch", "seed", "history", "extra", "objects"])
def test_an_incomplete_checkpoint_names_what_is_missing(tmp_path, missing):
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={})
    cp.save(epoch=1)
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    del payload[missing]
    _save_edited(payload, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=f"is incomplete \\(no valid '{missing}'\\)"):
        cp.load()


def test_a_checkpoint_without_config_or_module_generators_still_loads(tmp_path):
    model = Noisy({"s": 1})
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={"m": model})
    cp.save(epoch=1, config={"x": 1})
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    del payload["config"], payload["module_rng"]
    _save_edited(payload, tmp_path / "c.pt")
    model.state = {"s": 2}
    assert cp.load().config is None
    assert model.state == {"s": 2}


def test_user_state_round_trip():
    state = ck.UserState(a=1)
    copy = state.state_dict()
    copy["a"] = 2
    assert state == {"a": 1}
    state.load_state_dict({"b": 3})
    assert state == {"b": 3}
    assert ck.CHECKPOINT_NAME == "checkpoint.pt"


# --- refusals name the file, what it is, and the flags that fix it --------------------------

FIX = (
    "Restore it from a backup, or start the run again with --overwrite (overwrite=True) or in "
    "another output folder"
)


def test_a_missing_checkpoint_is_named_with_the_fix(tmp_path):
    path = tmp_path / "c.pt"
    with pytest.raises(CheckpointError) as info:
        ck.Checkpointer(path=path, objects={}).load()
    assert str(info.value) == f"checkpoint {str(path)!r} does not exist. {FIX}"
    assert info.value.path == path


def test_a_foreign_file_names_the_flags_that_fix_it(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"format": 2}, path)
    with pytest.raises(CheckpointError) as info:
        ck.Checkpointer(path=path, objects={}).load()
    assert str(info.value) == f"{str(path)!r} is not a hybridqml checkpoint. {FIX}"


def test_an_incomplete_checkpoint_names_the_file_and_keeps_its_path(tmp_path):
    path = tmp_path / "c.pt"
    cp = ck.Checkpointer(path=path, objects={})
    cp.save(epoch=1)
    payload = torch.load(path, weights_only=True)
    del payload["history"]
    _save_edited(payload, path)
    with pytest.raises(CheckpointError) as info:
        cp.load()
    assert str(info.value) == f"checkpoint {str(path)!r} is incomplete (no valid 'history'). {FIX}"
    assert info.value.path == path


def _corrupt_message(path, stored, content):
    return (
        f"checkpoint {str(path)!r} is corrupt: its content does not match its checksum "
        f"(stored sha256 {stored}..., content {content}...); it was damaged on disk or edited, "
        f"and resuming from it would continue from wrong weights. {FIX}"
    )


def test_an_edited_weight_is_refused_with_both_checksums(tmp_path):
    path = tmp_path / "c.pt"
    model = nn.Linear(2, 1)
    cp = ck.Checkpointer(path=path, objects={"model": model})
    cp.save(epoch=1)
    payload = torch.load(path, weights_only=True)
    stored = payload["sha256"]
    payload["objects"]["model"]["bias"] += 1.0  # a flipped bit, say: checksum left as it was
    torch.save(payload, path)
    with pytest.raises(CheckpointError) as info:
        cp.load()
    message = str(info.value)
    content = message.split(", content ")[1][:12]
    assert len(stored) == 64 and content != stored[:12]
    assert all(c in "0123456789abcdef" for c in content)
    assert message == _corrupt_message(path, stored[:12], content)
    assert info.value.path == path


def test_a_checksum_that_cannot_be_computed_is_a_corrupt_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    cp = ck.Checkpointer(path=path, objects={})
    cp.save(epoch=1)
    stored = torch.load(path, weights_only=True)["sha256"]

    def unexpected(payload):
        raise RuntimeError("unsupported memory format option Contiguous")  # a sparse tensor

    monkeypatch.setattr(ck, "payload_digest", unexpected)
    with pytest.raises(CheckpointError) as info:
        cp.load()
    assert str(info.value) == _corrupt_message(path, stored[:12], "not computab")
    assert info.value.path == path


def test_an_old_checkpoint_without_checksum_loads_with_a_warning_at_the_caller(tmp_path):
    path = tmp_path / "c.pt"
    cp = ck.Checkpointer(path=path, objects={})
    cp.save(epoch=2)
    payload = torch.load(path, weights_only=True)
    del payload["sha256"]
    torch.save(payload, path)
    with pytest.warns(RuntimeWarning) as caught:
        assert cp.load().epoch == 2
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"checkpoint {str(path)!r} has no checksum (written by an older hybridqml): its "
        "integrity cannot be verified; the next checkpoint of the run will carry one"
    )
    assert caught[0].category is RuntimeWarning
    assert reported_at(caught[0].filename, __file__)  # the line that called Checkpointer.load


# --- module generators need both methods ----------------------------------------------------


class ReadOnlyState(nn.Module):
    def random_state(self):
        return {"seed": 5}


class WriteOnlyState(nn.Module):
    def __init__(self):
        super().__init__()
        self.given = None

    def set_random_state(self, state):
        self.given = state


def test_a_module_with_only_one_generator_method_is_not_a_generator_holder(tmp_path):
    net = nn.Sequential(ReadOnlyState(), WriteOnlyState(), Noisy({"a": 1}))
    assert ck._module_random_states(net) == {"2": {"a": 1}}
    cp = ck.Checkpointer(path=tmp_path / "c.pt", objects={"net": net})
    cp.save(epoch=1)
    net[2].state = {"a": 2}
    cp.load()
    assert net[2].state == {"a": 1} and net[1].given is None
