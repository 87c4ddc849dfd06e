import json
import subprocess
import sys

import pytest
import torch
from workflow_testing import (
    REPO_ROOT,
    assert_same_state,
    closed_port_url,
    read_metrics,
    write_fake_t10k,
)

from hybridqml.cli import COMMAND_GROUPS, main
from hybridqml.exceptions import DataError


def test_train_and_demo_are_registered():
    assert "hybridqml.cli._train" in COMMAND_GROUPS


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "hybridqml", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert done.returncode == 0
    assert "noisy-mlp" in done.stdout and "gan" in done.stdout


def test_train_qnn_writes_the_documented_files(tmp_path, capsys):
    out = tmp_path / "qnn"
    code = main(
        [
            "train",
            "qnn",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--seed",
            "3",
            "--samples",
            "48",
            "--no-progress",
        ]
    )
    assert code == 0
    metrics = read_metrics(out)
    assert {"hybrid_test_accuracy", "classical_test_accuracy"} <= metrics.keys()
    assert metrics["seed"] == 3
    for name in ("checkpoint.pt", "curves.png", "decision_boundary_hybrid.png"):
        assert (out / name).is_file()
    assert str(out) in capsys.readouterr().out


def test_train_textbook_and_noisy_mlp_write_test_accuracy(tmp_path):
    for workflow, extra in (("textbook", []), ("noisy-mlp", ["--entropy", "prng"])):
        out = tmp_path / workflow
        code = main(
            [
                "train",
                workflow,
                "--dataset",
                "digits",
                "--limit",
                "10",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--no-progress",
                *extra,
            ]
        )
        assert code == 0, workflow
        assert "test_accuracy" in read_metrics(out)
        assert (out / "confusion_matrix.png").is_file()


def test_train_gan_writes_per_epoch_quality(tmp_path):
    out = tmp_path / "gan"
    code = main(
        [
            "train",
            "gan",
            "--dataset",
            "digits",
            "--limit",
            "10",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--eval-samples",
            "32",
            "--entropy",
            "prng",
            "--entropy-mode",
            "pure",
            "--no-progress",
        ]
    )
    assert code == 0
    history = read_metrics(out)["history"]
    for key in ("d_loss", "g_loss", "class_coverage", "frechet_distance"):
        assert len(history[key]) == 1
    assert (out / "grids" / "epoch_001.png").is_file()


def test_mnist_workflow_without_data_dir_fails_with_one_clear_line(tmp_path, capsys):
    code = main(["train", "textbook", "--out", str(tmp_path / "x"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--data-dir" in err[0] and "MNIST/raw" in err[0]
    assert "--download" in err[0]


def test_wrong_data_dir_fails_cleanly(tmp_path, capsys):
    code = main(
        [
            "train",
            "gan",
            "--data-dir",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "x"),
            "--no-progress",
        ]
    )
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_unreachable_qrng_fails_cleanly_without_fallback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HYBRIDQML_QRNG_TOKEN", "test-token")
    code = main(
        [
            "train",
            "gan",
            "--dataset",
            "digits",
            "--limit",
            "5",
            "--out",
            str(tmp_path / "x"),
            "--epochs",
            "1",
            "--entropy",
            "qrng",
            "--qrng-url",
            closed_port_url(),
            "--no-progress",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "hybridqml: error:" in err and "no fallback" in err
    assert "test-token" not in err


def _gan_argv(out, *more):
    return [
        "train",
        "gan",
        "--dataset",
        "digits",
        "--limit",
        "6",
        "--batch-size",
        "20",
        "--eval-samples",
        "16",
        "--out",
        str(out),
        "--entropy-mode",
        "pure",
        "--no-progress",
        *more,
    ]


def _objects(out):
    return torch.load(out / "checkpoint.pt", weights_only=True)["objects"]


def test_resume_with_another_entropy_is_refused_and_an_unchanged_resume_is_exact(tmp_path, capsys):
    assert main(_gan_argv(tmp_path / "full", "--entropy", "prng", "--epochs", "2")) == 0
    part = tmp_path / "part"
    assert main(_gan_argv(part, "--entropy", "prng", "--epochs", "1")) == 0
    capsys.readouterr()
    code = main(_gan_argv(part, "--entropy", "aer", "--resume", "--epochs", "2"))
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "entropy.source: checkpoint 'prng', now 'aer'" in err[0]
    assert read_metrics(part)["epochs_completed"] == 1
    assert main(_gan_argv(part, "--entropy", "prng", "--resume", "--epochs", "2")) == 0
    assert_same_state(_objects(tmp_path / "full"), _objects(part))
    assert read_metrics(part)["entropy"]["active_source"] == "prng"


def test_textbook_resume_accepts_another_spelling_of_the_data_dir(tmp_path, monkeypatch):
    data = tmp_path / "data"
    write_fake_t10k(data)
    # fake IDX files under the official names: skip the official-content md5 check
    monkeypatch.setattr("hybridqml.data._mnist._IDX_MD5", {})

    def argv(out, data_dir, *more):
        return [
            "train",
            "textbook",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--batch-size",
            "8",
            "--no-progress",
            *more,
        ]

    assert main(argv(tmp_path / "full", data, "--epochs", "2")) == 0
    assert main(argv(tmp_path / "part", data, "--epochs", "1")) == 0
    spelled = data / "MNIST" / ".." / "MNIST" / "raw"
    assert main(argv(tmp_path / "part", spelled, "--epochs", "2", "--resume")) == 0
    assert read_metrics(tmp_path / "part")["data_source"] == "mnist-t10k-split"
    assert_same_state(_objects(tmp_path / "full"), _objects(tmp_path / "part"))


@pytest.mark.parametrize("workflow", ["textbook", "noisy-mlp", "gan"])
@pytest.mark.parametrize("flag", [True, False])
def test_download_flag_reaches_load_mnist(tmp_path, monkeypatch, capsys, workflow, flag):
    import hybridqml.data._images as images

    calls = []

    def offline(**kw):
        calls.append(kw)
        raise DataError("offline test double")

    monkeypatch.setattr(images, "load_mnist", offline)
    argv = ["train", workflow, "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main([*argv, "--no-progress", *(["--download"] if flag else [])]) == 1
    assert "offline test double" in capsys.readouterr().err
    assert [call["download"] for call in calls] == [flag]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "qnn", "--out", "x", "--epochs", "0"],
        ["train", "gan", "--out", "x", "--entropy", "dice"],
        ["train", "qnn", "--out", "x", "--seed", "-1"],
    ],
)
def test_bad_usage_exits_2(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


@pytest.mark.slow
def test_demo_runs_all_four_offline(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "scikit-learn" in out and str(tmp_path.resolve()) in out
    for workflow in ("textbook", "noisy-mlp", "qnn", "gan"):
        assert (tmp_path / workflow / "metrics.json").is_file()
    assert (tmp_path / "summary.json").is_file()


def test_quick_demo_runs_every_workflow_in_the_default_suite(tmp_path, capsys):
    # the README's main command, in its --quick smoke-test form (one epoch, tiny data)
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    assert "scikit-learn" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"] == "sklearn-digits (offline stand-in)" and summary["quick"] is True
    assert set(summary) == {"textbook", "noisy-mlp", "qnn", "gan", "data", "quick"}
    accuracies = {
        "textbook": ["test_accuracy"],
        "noisy-mlp": ["test_accuracy"],
        "qnn": ["hybrid_test_accuracy", "classical_test_accuracy"],
    }
    for workflow, keys in accuracies.items():
        assert set(summary[workflow]) == {*keys, "seconds"}
        for key in keys:
            assert 0.0 <= summary[workflow][key] <= 1.0
        assert read_metrics(out / workflow)["epochs_completed"] == 1
    assert set(summary["gan"]) == {"class_coverage", "frechet_distance", "seconds"}
    assert 1 <= summary["gan"]["class_coverage"] <= 10 and summary["gan"]["frechet_distance"] >= 0
    assert all(summary[name]["seconds"] >= 0 for name in accuracies)
