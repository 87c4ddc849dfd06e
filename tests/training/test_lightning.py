"""A QuantumLayer inside a LightningModule: 1 process in-process, 2 DDP processes (gloo)."""

import copy
import json
import math
import pickle
import runpy
import subprocess
import sys

import numpy as np
import pytest
import torch
from _circuits import statevector_expectations
from workflow_testing import REPO_ROOT

import hybridqml as hq
from hybridqml.data import load_circles

EXAMPLE = REPO_ROOT / "examples" / "lightning_qnn.py"
BATCH = 16  # the example's batch size

pytestmark = [
    # Lightning 2.6's own deprecation notice of a torch pytree name (lightning/.../_pytree.py)
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated"),
    # Lightning's notices about its own defaults (checkpoint loading, dataloader workers)
    pytest.mark.filterwarnings("ignore:.*weights_only. was not set"),
    pytest.mark.filterwarnings("ignore:The 'train_dataloader' does not have many workers"),
]


def _example():
    return runpy.run_path(str(EXAMPLE), run_name="lightning_example")


def _quantum_reference(model, x):
    """The classifier's outputs recomputed with qiskit's Statevector for the quantum layer."""
    linear, _, quantum, head = model.net
    with torch.no_grad():
        angles = torch.tanh(linear(x)).double().numpy()
    weights = np.broadcast_to(quantum.weight.detach().double().numpy(), (len(x), 2))
    expect = statevector_expectations(model.spec, np.concatenate([angles, weights], axis=1))
    with torch.no_grad():
        return head(torch.from_numpy(expect).float())


def test_quantum_layer_pickles_and_deep_copies_as_lightning_needs():
    layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="aer", shots=64, seed=3)
    x = torch.rand(5, 2)
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        # the same weights and the same seeded shot stream as the original from here on
        assert torch.equal(clone.weight, layer.weight)
        assert torch.equal(copy.deepcopy(clone)(x), copy.deepcopy(layer)(x))
        with torch.no_grad():
            clone.weight.add_(1.0)  # an independent copy
        assert not torch.equal(clone.weight, layer.weight)


def test_one_process_trains_and_the_checkpoint_reloads_to_the_same_outputs(tmp_path):
    example = _example()
    found = example["train"](devices=1, epochs=2, out=tmp_path)
    assert found["world_size"] == 1
    assert found["global_step"] == 2 * math.ceil(found["n_train"] / BATCH)
    model_type = example["HybridClassifier"]
    reloaded = model_type.load_from_checkpoint(found["checkpoint"], weights_only=True).eval()
    x = torch.from_numpy(np.linspace(-1, 1, 14, dtype=np.float32).reshape(7, 2))
    with torch.no_grad():
        got = reloaded(x)
    torch.testing.assert_close(got, _quantum_reference(reloaded, x), atol=1e-5, rtol=0)
    fresh = model_type()  # trained weights, not the initial ones
    assert not torch.equal(fresh.net[2].weight, reloaded.net[2].weight)


def test_two_ddp_processes_train_and_the_checkpoint_reloads(tmp_path):
    report = tmp_path / "report.json"
    cmd = [sys.executable, str(EXAMPLE), "--devices", "2", "--epochs", "2"]
    cmd += ["--out", str(tmp_path), "--report", str(report)]
    done = subprocess.run(cmd, cwd=EXAMPLE.parent, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(report.read_text())
    assert found["world_size"] == 2
    # each process trains on half of every epoch: steps from the data size, not from Lightning
    assert found["global_step"] == 2 * math.ceil(math.ceil(found["n_train"] / 2) / BATCH)
    model_type = _example()["HybridClassifier"]
    reloaded = model_type.load_from_checkpoint(found["checkpoint"], weights_only=True).eval()
    x_test = load_circles(n_samples=96, seed=0).test.tensors[0]
    with torch.no_grad():
        got = reloaded(x_test)
    torch.testing.assert_close(got, torch.tensor(found["outputs"]), atol=1e-6, rtol=0)
    torch.testing.assert_close(got, _quantum_reference(reloaded, x_test), atol=1e-5, rtol=0)
