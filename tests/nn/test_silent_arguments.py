"""Arguments that used to be ignored silently are errors now (issue 24)."""

import numpy as np
import pytest
import torch

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import ConfigurationError
from hybridqml.runs import QuantumRunConfig


@pytest.mark.parametrize(
    ("backend", "gradient"), [("aer", None), ("torch", None), ("torch", "adjoint")]
)
def test_a_seed_on_an_exact_backend_is_refused(backend, gradient):
    with pytest.raises(ConfigurationError, match=r"seed=3 would have no effect.*shots=None"):
        hq.QuantumLayer(circuits.ry(1), backend=backend, gradient=gradient, seed=3)


def test_a_seed_that_drives_something_is_accepted():
    assert hq.QuantumLayer(circuits.ry(1), shots=64, seed=1).random_state()  # shot seeds
    hq.QuantumLayer(circuits.ry(1), backend="torch", gradient="spsa", seed=3)  # directions
    hq.QuantumLayer(circuits.ry(1), backend="fake_manila", seed=3)  # noise and layout


def test_set_backend_refuses_an_explicit_useless_seed_but_not_an_inherited_one():
    layer = hq.QuantumLayer(circuits.ry(1), shots=64, seed=1)
    layer.set_backend("torch")  # the seed was for the shots; the exact run keeps it unused
    with pytest.raises(ConfigurationError, match="would have no effect"):
        layer.set_backend("aer", seed=4)
    assert layer.engine.backend_name == "torch"  # the failed switch changed nothing


def test_run_configs_pass_the_seed_only_where_it_is_used():
    exact = QuantumRunConfig(out_dir="run", backend="torch", seed=3).layer_options()
    assert exact["seed"] is None
    hq.QuantumLayer(circuits.ry(1), **exact)
    sampled = QuantumRunConfig(out_dir="run", shots=10, seed=3).layer_options()
    assert sampled["seed"] == 3
    device = QuantumRunConfig(out_dir="run", backend="fake_manila", seed=3).layer_options()
    assert device["seed"] == 3


@pytest.mark.parametrize(
    "init",
    [
        torch.tensor([0.5 + 0.25j]),
        np.array([0.5 + 0.25j]),
        lambda t: torch.full(t.shape, 0.5 + 0.25j),
    ],
)
def test_a_complex_init_is_refused_not_truncated(init):
    spec = circuits.variational(1, 1)
    with pytest.raises(ConfigurationError, match=r"complex values.*init\.real"):
        hq.QuantumLayer(spec, init=init)
