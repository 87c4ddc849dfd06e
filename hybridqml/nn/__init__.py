"""Torch modules over quantum circuits: engine, the autograd path, layers, noise layers.

* :mod:`~hybridqml.nn.engine` -- :class:`CircuitEngine`: spec + executor + gradient rule, numpy
  in and out.
* :mod:`~hybridqml.nn.function` -- :func:`expectations`, the one path from tensors to
  expectation values for every backend, and :class:`QuantumFunction`, its autograd Function.
* :mod:`~hybridqml.nn.layers` -- :class:`QuantumLayer` (contract), the ``nn.Module``;
  :mod:`~hybridqml.nn.sampler` -- :class:`SamplerLayer`, probability outputs;
  :mod:`~hybridqml.nn.weights` -- initial weights (``init=``); :mod:`~hybridqml.nn.streams` --
  independent shot streams of layers sharing a seed.
* :mod:`~hybridqml.nn.porting` -- :func:`from_qiskit_ml`: the layer equivalent to a qiskit-ML QNN.
* :mod:`~hybridqml.nn.noisy` -- :class:`NoisyLinear` / :class:`EntropyNoise`: noise from an
  entropy source in training mode only.
"""

from hybridqml.nn.engine import CircuitEngine
from hybridqml.nn.function import QuantumFunction, check_finite, expectations
from hybridqml.nn.layers import QuantumLayer
from hybridqml.nn.noisy import EntropyNoise, NoisyLinear
from hybridqml.nn.porting import from_qiskit_ml
from hybridqml.nn.sampler import SamplerLayer

__all__ = [
    "CircuitEngine",
    "EntropyNoise",
    "NoisyLinear",
    "QuantumFunction",
    "QuantumLayer",
    "SamplerLayer",
    "check_finite",
    "expectations",
    "from_qiskit_ml",
]
