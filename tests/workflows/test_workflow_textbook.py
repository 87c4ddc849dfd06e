import pytest
import torch
from workflow_testing import HAS_MNIST, SHARED_DATASETS, assert_same_state, read_metrics

from hybridqml.exceptions import ConfigurationError, DataError
from hybridqml.workflows._textbook import TextbookConfig, TextbookNet, train_textbook


def _config(tmp_path, **kw):
    base = dict(
        out_dir=tmp_path / "run",
        dataset="digits",
        limit_per_class=24,
        batch_size=16,
        epochs=3,
        lr=3e-3,
        progress=False,
    )
    return TextbookConfig(**(base | kw))


def test_log_probabilities_come_from_the_measured_z():
    torch.manual_seed(0)
    net = TextbookNet().eval()
    images = torch.rand(4, 1, 28, 28)
    captured = {}
    net.fc2.register_forward_hook(lambda m, i, out: captured.setdefault("angle", out))
    probs = net(images).exp()
    z = -torch.sin(captured["angle"])  # H then RY(x): <Z> = -sin x
    assert torch.allclose(probs[:, :1], (1 + z) / 2, atol=1e-6)
    assert torch.allclose(probs[:, 1:], (1 - z) / 2, atol=1e-6)
    assert torch.allclose(probs.sum(dim=1), torch.ones(4))


def test_gradients_reach_the_convolutions_through_the_quantum_layer():
    net = TextbookNet()
    torch.nn.functional.nll_loss(net(torch.rand(3, 1, 28, 28)), torch.tensor([0, 1, 1])).backward()
    assert net.conv1.weight.grad is not None and net.conv1.weight.grad.abs().sum() > 0


def test_training_lowers_the_loss_and_writes_the_documented_files(tmp_path):
    result = train_textbook(_config(tmp_path))
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    metrics = read_metrics(result.out_dir)
    assert metrics["test_accuracy"] == result.test_accuracy
    assert metrics["data_source"] == "sklearn-digits"
    assert len(metrics["confusion_matrix"]) == 2
    for name in ("checkpoint.pt", "best.pt", "curves.png", "confusion_matrix.png"):
        assert (result.out_dir / name).stat().st_size > 0


@pytest.mark.parametrize("shots", [None, 32])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, shots):
    full = _config(tmp_path / "full", epochs=2, shots=shots)
    train_textbook(full)
    part = _config(tmp_path / "part", epochs=1, shots=shots)
    train_textbook(part)
    resumed = train_textbook(_config(tmp_path / "part", epochs=2, resume=True, shots=shots))
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    a = torch.load(full.out_dir / "checkpoint.pt", weights_only=True)["objects"]
    b = torch.load(part.out_dir / "checkpoint.pt", weights_only=True)["objects"]
    assert_same_state(a, b)


def test_mnist_without_a_data_dir_says_where_to_get_it(tmp_path):
    with pytest.raises(DataError, match=r"data_dir.*MNIST/raw"):
        train_textbook(_config(tmp_path, dataset="mnist"))


def test_wrong_data_dir_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        train_textbook(_config(tmp_path, dataset="mnist", data_dir=tmp_path / "nowhere"))


def test_output_path_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="not a folder"):
        train_textbook(_config(tmp_path, out_dir=tmp_path / "file"))


def test_bad_config_values():
    with pytest.raises(ConfigurationError):
        TextbookConfig(out_dir="x", digits=(1, 1))
    with pytest.raises(ConfigurationError):
        TextbookConfig(out_dir="x", lr=0.0)


@pytest.mark.skipif(not HAS_MNIST, reason="shared MNIST folder not present")
def test_trains_on_the_shared_mnist_zeros_and_ones(tmp_path):
    result = train_textbook(
        _config(tmp_path, dataset="mnist", data_dir=SHARED_DATASETS, epochs=1, limit_per_class=64)
    )
    assert result.data_source == "mnist-t10k-split"
    metrics = read_metrics(result.out_dir)
    assert result.n_train + metrics["n_val"] == 128  # 64 per digit, validation held out of them
    assert metrics["selection"] == "validation" and metrics["n_val"] > 0
    assert result.test_accuracy > 0.9


def test_resume_refuses_changed_shots_lr_or_data(tmp_path):
    train_textbook(_config(tmp_path, epochs=1))
    with pytest.raises(ConfigurationError) as info:
        train_textbook(
            _config(tmp_path, epochs=2, resume=True, shots=32, lr=1e-2, limit_per_class=20)
        )
    message = str(info.value)
    for expected in (
        "shots: checkpoint None, now 32",
        "lr: checkpoint 0.003, now 0.01",
        "limit_per_class: checkpoint 24, now 20",
        "data.n_train: checkpoint 48, now 40",
    ):
        assert expected in message
    assert "epochs" not in message and "resume" not in message.split("(")[1]
    stored = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert stored["epoch"] == 1 and stored["config"]["shots"] is None
    assert "epochs" not in stored["config"] and "out_dir" not in stored["config"]
