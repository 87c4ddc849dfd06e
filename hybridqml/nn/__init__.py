"""Torch modules over quantum circuits: engine, the autograd path, layers, noise layers.

* ``_engine`` -- :class:`CircuitEngine`: spec + executor + gradient rule, numpy
  in and out, run as its :class:`EngineOptions` say.
* ``_function`` -- :func:`expectations`, the one path from tensors to
  expectation values for every backend, and :class:`QuantumFunction`, its autograd Function.
* ``_layers`` -- :class:`QuantumLayer` (contract), the ``nn.Module``;
  ``_sampler_layer`` -- :class:`SamplerLayer`, probability outputs;
  ``_weights`` -- initial weights (``init=``); ``_shot_seeds``
  -- independent shot-noise seeds of layers sharing a seed.
* ``_porting`` -- :func:`from_qiskit_ml`: the layer equivalent to a qiskit-ML QNN.
* ``_entropy_noise`` -- :class:`NoisyLinear` / :class:`EntropyNoise`: noise from an
  entropy source in training mode only.
"""

from hybridqml.nn._engine import CircuitEngine, EngineOptions
from hybridqml.nn._entropy_noise import EntropyNoise, NoisyLinear
from hybridqml.nn._function import QuantumFunction, check_finite, expectations
from hybridqml.nn._layers import QuantumLayer
from hybridqml.nn._porting import from_qiskit_ml
from hybridqml.nn._sampler_layer import SamplerLayer

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
