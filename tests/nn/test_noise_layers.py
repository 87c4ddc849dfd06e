import pytest
import torch
from workflow_testing import CountingSource

from hybridqml.entropy import EntropyPool, PRNGSource
from hybridqml.exceptions import ConfigurationError
from hybridqml.nn._entropy_noise import EntropyNoise, NoisyLinear
from hybridqml.workflows._noisy_mlp import NoisyMLP


def test_noise_is_added_in_training_only():
    noise = EntropyNoise(source=EntropyPool(PRNGSource(seed=0)), std=0.5)
    x = torch.zeros(64, 16)
    noisy = noise.train()(x)
    assert not torch.equal(noisy, x)
    assert 0.4 < float(noisy.std()) < 0.6  # std * N(0, 1)
    assert torch.equal(noise.eval()(x), x)


def test_noise_in_eval_only_when_asked():
    noise = EntropyNoise(source=EntropyPool(PRNGSource(seed=0)), std=0.5, noise_in_eval=True)
    x = torch.zeros(4, 4)
    assert not torch.equal(noise.eval()(x), x)


def test_each_byte_is_drawn_once_and_every_call_is_fresh():
    source = CountingSource()
    layer = NoisyLinear(8, 3, source=source, std=1.0).train()
    x = torch.zeros(5, 8)
    first, second = layer.noise(x), layer.noise(x)
    assert source.requests == [5 * 8 * 4, 5 * 8 * 4]  # 4 bytes per float32, nothing reused
    assert not torch.equal(first, second)
    layer.eval()(x)
    assert len(source.requests) == 2  # eval reads nothing


def test_pool_accounting_matches_the_values_drawn():
    pool = EntropyPool(PRNGSource(seed=3))
    model = NoisyMLP(source=pool, noise_std=0.1).train()
    model(torch.rand(7, 1, 28, 28))
    assert pool.provenance().delivered_bytes == 7 * (784 + 128 + 64) * 4
    model.eval()(torch.rand(7, 1, 28, 28))
    assert pool.provenance().delivered_bytes == 7 * (784 + 128 + 64) * 4


def test_eval_is_deterministic_and_training_is_not():
    model = NoisyMLP(source=EntropyPool(PRNGSource(seed=1)), dropout=0.0)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(model.eval()(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_float64_inputs_get_float64_noise():
    noise = EntropyNoise(source=EntropyPool(PRNGSource(seed=0)), std=1.0)
    assert noise(torch.zeros(3, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("std", [-0.1, float("nan"), float("inf"), True])
def test_bad_std_is_a_configuration_error(std):
    with pytest.raises(ConfigurationError):
        EntropyNoise(source=None, std=std)


def test_missing_or_bad_source_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="set_source"):
        EntropyNoise(std=0.1)(torch.zeros(2))
    with pytest.raises(ConfigurationError, match="read"):
        EntropyNoise(source=object())
