"""Torch modules over quantum circuits: engine, the autograd path, layers, noise layers.

* :mod:`~hybridqml.nn.engine` -- :class:`CircuitEngine`: spec + executor + gradient rule, numpy
  in and out, run as its :class:`EngineOptions` say.
* :mod:`~hybridqml.nn.function` -- :func:`expectations`, the one path from tensors to
  expectation values for every backend, and :class:`QuantumFunction`, its autograd Function.
* :mod:`~hybridqml.nn.layers` -- :class:`QuantumLayer` (contract), the ``nn.Module``;
  :mod:`~hybridqml.nn.sampler_layer` -- :class:`SamplerLayer`, probability outputs;
  :mod:`~hybridqml.nn.weights` -- initial weights (``init=``); :mod:`~hybridqml.nn.shot_seeds`
  -- independent shot-noise seeds of layers sharing a seed.
* :mod:`~hybridqml.nn.porting` -- :func:`from_qiskit_ml`: the layer equivalent to a qiskit-ML QNN.
* :mod:`~hybridqml.nn.entropy_noise` -- :class:`NoisyLinear` / :class:`EntropyNoise`: noise from an
  entropy source in training mode only.
"""

from hybridqml.nn.engine import CircuitEngine, EngineOptions
from hybridqml.nn.entropy_noise import EntropyNoise, NoisyLinear
from hybridqml.nn.function import QuantumFunction, check_finite, expectations
from hybridqml.nn.layers import QuantumLayer
from hybridqml.nn.porting import from_qiskit_ml
from hybridqml.nn.sampler_layer import SamplerLayer

__all__ = [
    "CircuitEngine",
    "EngineOptions",
    "EntropyNoise",
    "NoisyLinear",
    "QuantumFunction",
    "QuantumLayer",
    "SamplerLayer",
    "check_finite",
    "expectations",
    "from_qiskit_ml",
]
