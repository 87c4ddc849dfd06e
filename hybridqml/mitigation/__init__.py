"""Error mitigation inside training: readout correction (M3) and zero-noise extrapolation.

Pass ``mitigation="readout"``, ``"zne"``, ``"readout+zne"`` or a :class:`Mitigation` to
:class:`~hybridqml.QuantumLayer` or :class:`~hybridqml.SamplerLayer` (``--mitigation`` on
``hybridqml train``). Both techniques are linear in the measured values, and every shifted
evaluation of a parameter-shift backward pass is mitigated like the forward pass, so the
gradients of the mitigated values are exact. For ZNE that needs the per-copy rule: a folded
circuit repeats each rotation with one shared angle, which the two-term shift rule does not
allow for, so every copy gets its own angle and is shifted on its own
(``Mitigation(shift_rule="per-copy")``, the default; ``"shared"`` is cheaper and
approximate). The noisy torch engine (``backend="torch"`` with a fake device or noise model)
mitigates inside its autograd graph: backprop gradients of the mitigated values are exact for
both. The pieces:

* ``_options`` -- :class:`Mitigation` (what, scale factors, extrapolator, calibration);
* ``_folding`` -- :func:`fold_circuit`: unitary folding of parameterized circuits;
* ``_gate_angles`` -- one angle per gate of a folded circuit (the per-copy shift rule);
* ``_extrapolation`` -- :func:`extrapolation_weights`, :func:`extrapolate`;
* ``_readout`` -- :class:`ReadoutCalibration` and the corrections (mthree's M3 with shots).

Where they run: ``hybridqml.execution._mitigated`` (inside a sampler executor's call) and, on
IBM Runtime with expectation values, the runtime Estimator's own resilience options.

Example:
    >>> import hybridqml as hq
    >>> hq.mitigation.Mitigation(readout=True).label
    'readout'
"""

from hybridqml.mitigation._extrapolation import extrapolate, extrapolation_weights
from hybridqml.mitigation._folding import fold_circuit, folded_scale
from hybridqml.mitigation._options import MITIGATION_CHOICES, Mitigation, as_mitigation
from hybridqml.mitigation._readout import ReadoutCalibration

__all__ = [
    "MITIGATION_CHOICES",
    "Mitigation",
    "ReadoutCalibration",
    "as_mitigation",
    "extrapolate",
    "extrapolation_weights",
    "fold_circuit",
    "folded_scale",
]
