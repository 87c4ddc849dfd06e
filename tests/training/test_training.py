"""Tests of hybridqml.training: seeding, data order, exact resume, metrics.json, classifiers."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _tiny_training import sgd_step
from torch import nn
from torch.utils.data import TensorDataset

from hybridqml.data import load_circles
from hybridqml.exceptions import CheckpointError, ConfigurationError, DataError
from hybridqml.runs import (
    Checkpointer,
    UserState,
    capture_rng_state,
    epoch_seed,
    restore_rng_state,
    seed_everything,
    write_metrics,
)
from hybridqml.training import (
    TrainConfig,
    evaluate_classifier,
    fit_classifier,
    make_loader,
    run_epochs,
)

SEED = 11


def _assert_same_state(a: Any, b: Any) -> None:
    """Bitwise comparison of nested state dicts."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert set(a) == set(b)
        for key in a:
            _assert_same_state(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same_state(x, y)
    else:
        assert a == b


# --------------------------------------------------------------------------- seeding


def test_seed_everything_reproduces_python_numpy_and_torch() -> None:
    def draw() -> tuple[float, float, torch.Tensor]:
        return random.random(), float(np.random.rand()), torch.rand(3)

    seed_everything(5)
    first = draw()
    seed_everything(5)
    second = draw()
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    seed_everything(6)
    assert draw()[0] != first[0]
    for bad in (-1, 2**32, 1.5, True):
        with pytest.raises(ConfigurationError, match="seed"):
            seed_everything(bad)  # type: ignore[arg-type]


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    seed_everything(1)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = capture_rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = (random.random(), float(np.random.randn()), torch.randn(2))
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (random.random(), float(np.random.randn()), torch.randn(2))
    assert expected[:2] == got[:2] and torch.equal(expected[2], got[2])


def test_epoch_order_depends_only_on_seed_and_epoch() -> None:
    data = TensorDataset(torch.arange(40))

    def orders(seed: int, *, disturb: bool) -> list[list[int]]:
        seen: list[list[int]] = []

        def step(batch: Any) -> dict[str, float]:
            if disturb:
                torch.rand(7)  # the global RNG must not influence the data order
            seen.append(batch[0].tolist())
            return {}

        run_epochs(
            config=TrainConfig(epochs=3, seed=seed, progress=False),
            loader=make_loader(data, batch_size=40, seed=123),
            step=step,
            stateful={},
        )
        return seen

    a = orders(SEED, disturb=False)
    assert a == orders(SEED, disturb=True)
    assert a[0] != a[1] != a[2] and sorted(a[0]) == list(range(40))
    assert a != orders(SEED + 1, disturb=False)
    assert epoch_seed(SEED, 2) == epoch_seed(SEED, 2) != epoch_seed(SEED, 3)


# --------------------------------------------------------------------------- classifier


def _circles_loaders(seed: int = SEED) -> tuple[Any, Any]:
    split = load_circles(n_samples=240, noise=0.05, seed=3)
    return (
        make_loader(split.train, batch_size=25, seed=seed),
        make_loader(split.test, batch_size=100, shuffle=False),
    )


def _classifier(
    init_seed: int,
) -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.ReduceLROnPlateau]:
    torch.manual_seed(init_seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    # threshold=0.5 asks for a 50% loss drop per epoch, so the lr is reduced during the test
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=0, threshold=0.5
    )
    return model, optimizer, scheduler


def _fit(out: Path, *, epochs: int, resume: bool, init_seed: int = 0, progress: bool = False):
    model, optimizer, scheduler = _classifier(init_seed)
    train, test = _circles_loaders()
    result = fit_classifier(
        model=model,
        train_loader=train,
        test_loader=test,
        optimizer=optimizer,
        scheduler=scheduler,
        config=TrainConfig(epochs=epochs, seed=SEED, out_dir=out, resume=resume, progress=progress),
    )
    return result, model, optimizer, scheduler


def test_fit_classifier_learns_and_writes_metrics(tmp_path: Path) -> None:
    untrained, _, _ = _classifier(0)
    initial = evaluate_classifier(untrained, _circles_loaders()[1])
    result, _, _, _ = _fit(tmp_path, epochs=6, resume=False, progress=True)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.final["test_loss"] < 0.6 * initial.loss
    assert result.final["test_accuracy"] >= 0.9
    assert len({h["lr"] for h in result.history}) > 1  # the plateau scheduler did step
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] == result.final["test_accuracy"]
    assert metrics["epochs_completed"] == 6 and metrics["seed"] == SEED
    assert metrics["history"]["epoch"] == [1, 2, 3, 4, 5, 6]
    assert metrics["history"]["loss"] == pytest.approx(losses)
    assert set(metrics["history"]) >= {"loss", "accuracy", "test_loss", "test_accuracy", "lr"}
    cm = np.array(metrics["confusion_matrix"])
    assert cm.shape == (2, 2) and cm.sum() == 40
    assert np.trace(cm) / cm.sum() == pytest.approx(result.final["test_accuracy"])
    assert metrics["best_test_accuracy"] == max(metrics["history"]["test_accuracy"])
    # best.pt holds the weights of the best epoch: evaluating them gives that accuracy
    assert result.best_path == tmp_path / "best.pt"
    best_model, _, _ = _classifier(0)
    best_model.load_state_dict(torch.load(result.best_path, weights_only=True))
    _, test = _circles_loaders()
    assert evaluate_classifier(best_model, test).accuracy == result.best_accuracy
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_fit_classifier_selects_on_validation_not_test(tmp_path: Path) -> None:
    from hybridqml.data import split_validation

    split = load_circles(n_samples=240, noise=0.05, seed=3)
    train, val = split_validation(split.train, fraction=0.2, seed=1)
    model, optimizer, _ = _classifier(0)
    seen: list[float] = []

    class Recording(torch.optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics, epoch=None):  # type: ignore[override]
            seen.append(float(metrics))
            super().step(metrics)

    scheduler = Recording(optimizer, factor=0.5, patience=0, threshold=0.5)
    result = fit_classifier(
        model=model,
        train_loader=make_loader(train, batch_size=25, seed=SEED),
        test_loader=make_loader(split.test, batch_size=100, shuffle=False),
        val_loader=make_loader(val, batch_size=100, shuffle=False),
        optimizer=optimizer,
        scheduler=scheduler,
        config=TrainConfig(epochs=4, seed=SEED, out_dir=tmp_path, progress=False),
    )
    history = result.history
    assert seen == [h["val_loss"] for h in history]  # the scheduler never saw the test loss
    assert result.selection == "validation"
    best = max(history, key=lambda h: h["val_accuracy"])
    assert result.best_epoch == best["epoch"] and result.best_accuracy == best["val_accuracy"]
    assert result.selected_test_accuracy == best["test_accuracy"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["selection"] == "validation"
    assert metrics["best_val_accuracy"] == best["val_accuracy"]
    assert "best_test_accuracy" not in metrics
    best_model, _, _ = _classifier(0)
    best_model.load_state_dict(torch.load(result.best_path, weights_only=True))
    test_loader = make_loader(split.test, batch_size=100, shuffle=False)
    assert evaluate_classifier(best_model, test_loader).accuracy == result.selected_test_accuracy


def test_classifier_resume_is_bitwise_identical(tmp_path: Path) -> None:
    straight, model_a, opt_a, sched_a = _fit(tmp_path / "a", epochs=3, resume=False)
    first, _, _, _ = _fit(tmp_path / "b", epochs=2, resume=False)
    assert first.history == straight.history[:2]
    torch.rand(100)  # disturb every RNG between the runs: restore must undo it
    np.random.rand(100)
    random.random()
    resumed, model_b, opt_b, sched_b = _fit(tmp_path / "b", epochs=3, resume=True, init_seed=99)
    _assert_same_state(model_a.state_dict(), model_b.state_dict())
    _assert_same_state(opt_a.state_dict(), opt_b.state_dict())
    _assert_same_state(sched_a.state_dict(), sched_b.state_dict())
    assert resumed.history == straight.history
    assert torch.equal(
        torch.load(tmp_path / "a" / "best.pt", weights_only=True)["0.weight"],
        torch.load(tmp_path / "b" / "best.pt", weights_only=True)["0.weight"],
    )
    metrics_a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    metrics_b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics_a == metrics_b


def test_evaluate_classifier_known_answer_and_mode_restored() -> None:
    inputs = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [2.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 2, 2])
    model = nn.Sequential(nn.Identity())
    model.train()
    ev = evaluate_classifier(model, [(inputs, labels)])
    assert ev.accuracy == 0.5 and ev.n_samples == 4
    assert ev.confusion_matrix.tolist() == [[1, 0, 0], [0, 1, 0], [1, 1, 0]]
    expected = nn.functional.cross_entropy(inputs, labels).item()
    assert ev.loss == pytest.approx(expected)
    assert model.training
    binary = evaluate_classifier(
        nn.Identity(),
        [(torch.tensor([-1.0, 3.0, 2.0]), torch.tensor([0.0, 1.0, 0.0]))],
        loss_fn=nn.functional.binary_cross_entropy_with_logits,
    )
    assert binary.confusion_matrix.tolist() == [[1, 1], [0, 1]]


# --------------------------------------------------------------------------- GAN-style loop


def _gan(init_seed: int) -> tuple[dict[str, Any], Callable[[Any], dict[str, float]], list[int]]:
    torch.manual_seed(init_seed)
    gen = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    disc = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.2), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    opt_g = torch.optim.Adam(gen.parameters(), lr=0.01)
    opt_d = torch.optim.SGD(disc.parameters(), lr=0.05, momentum=0.9)
    sched_g = torch.optim.lr_scheduler.StepLR(opt_g, step_size=1, gamma=0.9)
    counter = UserState(steps=0)
    crash_at = [0]  # not checkpointed: simulates killing the process
    bce = nn.functional.binary_cross_entropy_with_logits

    def step(batch: Any) -> dict[str, float]:
        real = batch[0]
        ones, zeros = torch.ones(len(real), 1), torch.zeros(len(real), 1)
        jitter = 1e-3 * (float(np.random.rand()) + random.random())  # every RNG matters
        fake = gen(torch.randn(len(real), 4))
        d_loss = bce(disc(real + jitter), ones) + bce(disc(fake.detach()), zeros)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = bce(disc(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        counter["steps"] += 1
        if crash_at[0] == counter["steps"]:
            raise KeyboardInterrupt
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}

    objects = {
        "generator": gen,
        "discriminator": disc,
        "opt_g": opt_g,
        "opt_d": opt_d,
        "sched_g": sched_g,
        "counter": counter,
    }
    return objects, step, crash_at


def _run_gan(out: Path, *, epochs: int, resume: bool, init_seed: int = 0, crash_at: int = 0):
    objects, step, crash = _gan(init_seed)
    crash[0] = crash_at
    data = TensorDataset(torch.randn(48, 2, generator=torch.Generator().manual_seed(1)) + 1.0)

    def evaluate(epoch: int) -> dict[str, float]:
        with torch.no_grad():
            return {"fake_mean": float(objects["generator"](torch.randn(16, 4)).mean())}

    def on_epoch_end(epoch: int, metrics: Any, history: Any) -> None:
        objects["sched_g"].step()

    result = run_epochs(
        config=TrainConfig(epochs=epochs, seed=SEED, out_dir=out, resume=resume, progress=False),
        loader=make_loader(data, batch_size=16, seed=SEED),
        step=step,
        stateful=objects,
        evaluate=evaluate,
        on_epoch_end=on_epoch_end,
    )
    return result, objects


def test_gan_loop_resume_after_crash_is_bitwise_identical(tmp_path: Path) -> None:
    straight, objects_a = _run_gan(tmp_path / "a", epochs=3, resume=False)
    assert straight.resumed_from is None and straight.epochs_completed == 3
    with pytest.raises(KeyboardInterrupt):  # killed in the middle of epoch 3 (3 batches/epoch)
        _run_gan(tmp_path / "b", epochs=3, resume=False, crash_at=8)
    assert Checkpointer(path=tmp_path / "b" / "checkpoint.pt", objects={}).exists()
    resumed, objects_b = _run_gan(tmp_path / "b", epochs=3, resume=True, init_seed=5)
    assert resumed.resumed_from == 2 and resumed.epochs_completed == 3
    for name in objects_a:
        if name != "counter":
            _assert_same_state(objects_a[name].state_dict(), objects_b[name].state_dict())
    assert objects_b["counter"]["steps"] == 9
    assert resumed.history == straight.history
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert len(metrics["history"]["d_loss"]) == 3 and "g_loss" in metrics
    # resuming a finished run trains nothing, says so, and keeps the history
    with pytest.warns(UserWarning, match="already has 3 epochs.*nothing was trained"):
        again, objects_c = _run_gan(tmp_path / "b", epochs=3, resume=True)
    assert again.history == straight.history
    _assert_same_state(objects_a["generator"].state_dict(), objects_c["generator"].state_dict())


def test_resume_without_checkpoint_is_an_error_and_seed_must_match(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        _run_gan(tmp_path / "a", epochs=1, resume=True)
    assert str(tmp_path / "a") in str(info.value) and "drop --resume" in str(info.value)
    assert not (tmp_path / "a" / "metrics.json").exists()  # nothing was trained
    fresh, _ = _run_gan(tmp_path / "a", epochs=1, resume=False)
    assert fresh.resumed_from is None and fresh.epochs_completed == 1
    objects, step, _ = _gan(0)
    with pytest.raises(ConfigurationError, match="seed"):
        run_epochs(
            config=TrainConfig(epochs=2, seed=SEED + 1, out_dir=tmp_path / "a", resume=True),
            loader=[(torch.zeros(2, 2),)],
            step=step,
            stateful=objects,
        )


def _settings_run(out: Path, *, epochs: int, seed: int = SEED, **run_config: Any) -> Any:
    model = nn.Linear(2, 1)
    _, step = sgd_step(model)

    config = TrainConfig(
        epochs=epochs,
        seed=seed,
        out_dir=out,
        resume=(out / "checkpoint.pt").is_file(),
        progress=False,
        run_config=run_config or None,
    )
    data = TensorDataset(torch.ones(4, 2))
    result = run_epochs(
        config=config, loader=make_loader(data, seed=seed), step=step, stateful={"model": model}
    )
    return result, model


def test_resume_refuses_other_run_settings_listing_every_difference(tmp_path: Path) -> None:
    settings = {"lr": 0.1, "entropy": {"source": "prng", "mode": "pure"}, "digits": [0, 1]}
    _settings_run(tmp_path, epochs=1, **settings)
    stored = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert stored["config"] == settings
    changed = settings | {"lr": 0.2, "entropy": {"source": "aer", "mode": "pure"}}
    with pytest.raises(ConfigurationError) as info:
        _settings_run(tmp_path, epochs=2, seed=SEED + 1, **changed)
    message = str(info.value)
    for expected in (
        "lr: checkpoint 0.1, now 0.2",
        "entropy.source: checkpoint 'prng', now 'aer'",
        f"seed: checkpoint {SEED}, now {SEED + 1}",
        "another output folder",
    ):
        assert expected in message
    assert "mode" not in message and "digits" not in message
    assert message.count("seed:") == 1
    # the same settings (digits as a tuple now) resume; only the epoch total changed
    resumed, _ = _settings_run(tmp_path, epochs=2, **(settings | {"digits": (0, 1)}))
    assert resumed.resumed_from == 1 and resumed.epochs_completed == 2


def test_refused_resume_restores_nothing(tmp_path: Path) -> None:
    _settings_run(tmp_path, epochs=1, lr=0.1)
    model = nn.Linear(2, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()

    def refuse(checkpoint: Any) -> None:
        assert checkpoint.config == {"lr": 0.1} and checkpoint.epoch == 1
        raise ConfigurationError("refused")

    with pytest.raises(ConfigurationError, match="refused"):
        Checkpointer(path=tmp_path / "checkpoint.pt", objects={"model": model}).load(check=refuse)
    _assert_same_state(before, model.state_dict())
    assert torch.equal(rng, torch.get_rng_state())


def test_checkpoint_without_recorded_settings_cannot_be_checked(tmp_path: Path) -> None:
    _settings_run(tmp_path, epochs=1)  # no run_config recorded
    with pytest.raises(ConfigurationError, match="records no run settings"):
        _settings_run(tmp_path, epochs=2, lr=0.1)


# --------------------------------------------------------------------------- checkpointer, config


def test_checkpointer_errors(tmp_path: Path) -> None:
    model = nn.Linear(2, 1)
    path = tmp_path / "ckpt.pt"
    with pytest.raises(DataError, match="does not exist"):
        Checkpointer(path=path, objects={"model": model}).load()
    Checkpointer(path=path, objects={"model": model}).save(epoch=1, extra={"note": "x"})
    loaded = Checkpointer(path=path, objects={"model": nn.Linear(2, 1)}).load(restore_rng=False)
    assert loaded.epoch == 1 and loaded.extra == {"note": "x"}
    with pytest.raises(ConfigurationError, match="expected"):
        Checkpointer(path=path, objects={"net": model}).load()
    with pytest.raises(ConfigurationError, match="cannot restore"):
        Checkpointer(path=path, objects={"model": nn.Linear(3, 1)}).load()
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot read checkpoint"):
        Checkpointer(path=path, objects={"model": model}).load()
    with pytest.raises(ConfigurationError, match="state_dict"):
        Checkpointer(path=path, objects={"model": object()})  # type: ignore[dict-item]


@pytest.mark.parametrize("content", [None, b"not a checkpoint", "foreign"])
def test_bad_checkpoints_raise_checkpoint_error_with_the_path(
    tmp_path: Path, content: bytes | str | None
) -> None:
    path = tmp_path / "ckpt.pt"
    if content == "foreign":
        torch.save({"weights": torch.zeros(2)}, path)  # loadable, but not a hybridqml checkpoint
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        Checkpointer(path=path, objects={"model": nn.Linear(2, 1)}).load()
    assert type(info.value) is CheckpointError and isinstance(info.value, DataError)
    assert info.value.path == path


def test_config_validation_and_metric_clashes(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigurationError, match="out_dir"):
        TrainConfig(epochs=1, resume=True)
    with pytest.raises(ConfigurationError, match="reported twice"):
        run_epochs(
            config=TrainConfig(epochs=1, progress=False),
            loader=[0],
            step=lambda batch: {"loss": 1.0},
            stateful={},
            evaluate=lambda epoch: {"loss": 2.0},
        )


def test_write_metrics_keeps_json_valid(tmp_path: Path) -> None:
    history = [{"epoch": 1, "loss": float("nan")}, {"epoch": 2, "loss": 0.5, "acc": 0.9}]
    path = write_metrics(tmp_path / "m.json", history=history, extra={"note": [1, 2]})
    metrics = json.loads(path.read_text())
    assert metrics["loss"] == 0.5 and metrics["acc"] == 0.9
    assert metrics["history"] == {"epoch": [1, 2], "loss": [None, 0.5], "acc": [None, 0.9]}
    assert metrics["note"] == [1, 2] and metrics["epochs_completed"] == 2
    with pytest.raises(ConfigurationError, match="reserved"):
        write_metrics(tmp_path / "m.json", history=history, final={"history": 1.0})
