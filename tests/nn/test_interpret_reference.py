"""A SamplerLayer's ``interpret`` against Statevector probabilities (issue 24)."""

import numpy as np
import pytest
import torch
from qiskit.quantum_info import Statevector

import hybridqml as hq
from hybridqml import circuits

PERMUTATION = [2, 0, 3, 1]  # outcome -> output: a bijection that is not the identity


@pytest.mark.parametrize("backend", ["torch", "aer"])
@pytest.mark.parametrize(
    ("interpret", "size"), [(PERMUTATION.__getitem__, 4), (None, 4), (lambda v: v % 3, 3)]
)
def test_interpret_maps_statevector_outcomes(backend, interpret, size):
    spec = circuits.variational(2, layers=1)
    layer = hq.SamplerLayer(
        spec, interpret=interpret, output_size=None if interpret is None else size, backend=backend
    )
    x = torch.tensor([[0.3, -1.2], [2.0, 0.7]], dtype=torch.float64)
    out = layer(x).detach().numpy()
    w = layer.weight.detach().double().numpy()
    for b in range(2):
        values = dict(zip(spec.input_params, x[b].tolist(), strict=True))
        values.update(zip(spec.weight_params, w.tolist(), strict=True))
        probs = Statevector(spec.circuit.assign_parameters(values)).probabilities()
        expected = np.zeros(size)
        for outcome, p in enumerate(probs):  # written out: each outcome adds to its output
            expected[outcome if interpret is None else interpret(outcome)] += p
        np.testing.assert_allclose(out[b], expected, atol=1e-6)
