"""One seed rule for the whole package: an int in [0, 2**32 - 1], wherever a seed is taken."""

import argparse

import numpy as np
import pytest
import torch

import hybridqml as hq
from hybridqml import circuits
from hybridqml._validation import MAX_SEED, check_seed, seed_arg
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution import make_executor


def test_the_largest_seed_reaches_every_generator():
    assert check_seed(MAX_SEED) == 2**32 - 1
    np.random.RandomState(MAX_SEED)  # numpy's legacy generator: the narrowest consumer
    torch.Generator().manual_seed(MAX_SEED)
    layer = hq.QuantumLayer(circuits.ry(1), shots=10, seed=MAX_SEED)
    assert layer(torch.zeros(1, 1)).shape == (1, 1)
    assert make_executor(ShiftableCircuit(circuits.ry(1)), "aer", shots=10, seed=MAX_SEED)


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, True, "7"])
def test_layers_backends_and_training_refuse_the_same_seeds(bad):
    message = r"seed must be a non-negative integer below 2\*\*32"
    with pytest.raises(ConfigurationError, match=message):
        check_seed(bad)
    with pytest.raises(ConfigurationError, match=message):
        hq.QuantumLayer(circuits.ry(1), shots=10, seed=bad)
    with pytest.raises(ConfigurationError, match=message):
        make_executor(ShiftableCircuit(circuits.ry(1)), "aer", shots=10, seed=bad)


def test_none_is_a_seed_only_where_it_is_optional():
    assert check_seed(None, optional=True) is None
    with pytest.raises(ConfigurationError, match="or None"):
        check_seed(-1, optional=True)
    with pytest.raises(ConfigurationError):
        check_seed(None)
    with pytest.raises(argparse.ArgumentTypeError):  # the command line takes the same range
        seed_arg(str(MAX_SEED + 1))
    assert seed_arg(str(MAX_SEED)) == MAX_SEED
