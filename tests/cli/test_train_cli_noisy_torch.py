"""``hybridqml train ... --backend torch --device fake_<device>``: the noisy torch engine."""

import pytest
from workflow_testing import read_metrics

from hybridqml.cli import main


@pytest.mark.slow
def test_train_qnn_on_the_noisy_torch_engine_records_the_device(tmp_path, capsys):
    out = tmp_path / "qnn"
    args = ["train", "qnn", "--out", str(out), "--epochs", "1", "--samples", "16"]
    args += ["--qubits", "2", "--layers", "1", "--no-progress"]
    assert main([*args, "--backend", "torch", "--device", "fake_manila"]) == 0
    config = read_metrics(out)["config"]
    assert config["backend"] == "torch"
    assert config["backend_options"] == {"device": "fake_manila"}


def test_device_without_the_torch_backend_is_refused(tmp_path, capsys):
    args = ["train", "qnn", "--out", str(tmp_path / "x"), "--device", "fake_manila"]
    assert main(args) != 0
    assert "--backend torch" in capsys.readouterr().err
