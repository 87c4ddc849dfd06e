"""The noisy simulator: exact mixed states of circuits under Aer noise models.

A noisy device measured with infinitely many shots gives one outcome distribution: the diagonal
of the circuit's density matrix with every noise channel applied, pushed through the readout
error. This family computes it exactly and draws shots from it, for fake IBM devices and for
``AerSimulator`` noise models (read from ``qiskit_aer.noise.NoiseModel`` objects):

* ``_density`` -- :class:`DensityProgram`: the density matrices of
  every binding of a small block at once, in numpy (channels as superoperators);
* ``_density_sampler`` -- :class:`DensityMatrixSampler`: a Sampler
  V2 primitive of the exact noisy distribution (active qubits only, independent blocks, noise
  inlined, readout error applied), larger blocks on Aer's ``density_matrix`` method;
* ``_executors`` -- exact noisy values, noisy shots, or Aer's
  trajectories; ``_plugin`` -- the registry entries (the
  ``mixed`` entry point).
"""

from hybridqml.backends.mixed._density import DensityProgram
from hybridqml.backends.mixed._density_sampler import NOISY_SIMULATIONS, DensityMatrixSampler

__all__ = ["NOISY_SIMULATIONS", "DensityMatrixSampler", "DensityProgram"]
