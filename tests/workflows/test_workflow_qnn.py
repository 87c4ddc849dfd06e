import pytest
import torch
from workflow_testing import assert_same_state, read_metrics

from hybridqml.exceptions import ConfigurationError
from hybridqml.nn._layers import QuantumLayer
from hybridqml.workflows._qnn import ClassicalNet, HybridQNN, QNNConfig, count_parameters, train_qnn


def test_the_hybrid_runs_a_real_quantum_layer_and_sizes_match():
    hybrid = HybridQNN(n_qubits=4, layers=2)
    assert isinstance(hybrid.quantum, QuantumLayer)
    assert hybrid.quantum.weight.numel() == 8
    classical = ClassicalNet.matching(count_parameters(hybrid))
    assert abs(count_parameters(classical) - count_parameters(hybrid)) <= 3


def test_side_by_side_training_lowers_both_losses_and_writes_files(tmp_path):
    cfg = QNNConfig(
        out_dir=tmp_path, epochs=3, n_samples=96, batch_size=16, lr=0.05, progress=False
    )
    result = train_qnn(cfg)
    for name in ("hybrid", "classical"):
        losses = [h[f"{name}_loss"] for h in result.history]
        assert losses[-1] < losses[0], name
    metrics = read_metrics(tmp_path)
    assert metrics["hybrid_test_accuracy"] == result.hybrid_test_accuracy
    assert metrics["classical_test_accuracy"] == result.classical_test_accuracy
    assert metrics["hybrid_parameters"] == 30
    for name in (
        "checkpoint.pt",
        "curves.png",
        "decision_boundary_hybrid.png",
        "decision_boundary_classical.png",
    ):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("shots", [None, 64])
def test_resume_matches_an_uninterrupted_run(tmp_path, shots):
    # with shots, the layer's seed generator is checkpointed, so the shot noise replays too
    kw = dict(n_samples=60, batch_size=20, progress=False, shots=shots)
    train_qnn(QNNConfig(out_dir=tmp_path / "full", epochs=2, **kw))
    train_qnn(QNNConfig(out_dir=tmp_path / "part", epochs=1, **kw))
    resumed = train_qnn(QNNConfig(out_dir=tmp_path / "part", epochs=2, resume=True, **kw))
    assert resumed.history[-1]["epoch"] == 2
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["objects"]
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)["objects"]
    assert_same_state(a, b)


def test_metrics_json_is_written_with_an_object_in_backend_options(tmp_path):
    # e.g. a NoiseModel: recorded by type name, not a crash when writing metrics.json
    from qiskit_aer.noise import NoiseModel

    cfg = QNNConfig(
        out_dir=tmp_path,
        epochs=1,
        n_samples=24,
        batch_size=12,
        progress=False,
        shots=64,
        backend_options={"noise_model": NoiseModel()},
    )
    train_qnn(cfg)
    recorded = read_metrics(tmp_path)["config"]["backend_options"]["noise_model"]
    assert recorded == "<qiskit_aer.noise.noise_model.NoiseModel>"


def test_backend_options_reach_the_quantum_layer():
    # e.g. {"device": "GPU"} with qiskit-aer-gpu; here an option every Aer build has
    from hybridqml.workflows._qnn import HybridQNN
    from hybridqml.workflows._textbook import TextbookNet

    for net in (
        HybridQNN(n_qubits=2, layers=1, backend_options={"max_parallel_threads": 1}),
        TextbookNet(backend_options={"max_parallel_threads": 1}),
    ):
        simulator = net.quantum.engine.executor.estimator.simulator
        assert simulator.options.max_parallel_threads == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr", 0.0, "lr must be a finite number > 0"),
        ("lr", float("inf"), "lr must be a finite number > 0, got inf"),
        ("lr", float("nan"), "lr must be a finite number > 0, got nan"),
        ("batch_size", 0, "batch_size must be >= 1"),
        ("overwrite", True, "resume and overwrite exclude each other"),
    ],
)
def test_shared_settings_are_validated_in_every_config(field, value, message):
    from hybridqml.workflows import GANConfig, NoisyMLPConfig, QNNConfig, TextbookConfig

    for cls in (TextbookConfig, NoisyMLPConfig, QNNConfig, GANConfig):
        with pytest.raises(ConfigurationError, match=message):
            cls(out_dir="x", **{field: value, "resume": field == "overwrite"})
    for cls in (TextbookConfig, NoisyMLPConfig):
        for fraction in (1.0, 0.0, float("nan"), float("inf")):
            with pytest.raises(ConfigurationError, match="validation_fraction"):
                cls(out_dir="x", validation_fraction=fraction)


@pytest.mark.parametrize(
    ("cls_name", "field"), [("NoisyMLPConfig", "noise_std"), ("QNNConfig", "noise")]
)
@pytest.mark.parametrize("value", [float("inf"), float("nan"), -0.1])
def test_noise_settings_must_be_finite_and_non_negative(cls_name, field, value):
    import hybridqml.workflows as workflows

    with pytest.raises(ConfigurationError, match=f"{field} must be a finite number >= 0"):
        getattr(workflows, cls_name)(out_dir="x", **{field: value})
