"""Backends are plugins: a package with a ``hybridqml.backends`` entry point is a backend name.

A throwaway distribution is written at test time (a module with a
:class:`~hybridqml.execution._registry.BackendEntry`, and a ``*.dist-info`` folder with its
``METADATA`` and ``entry_points.txt``), put on ``PYTHONPATH`` of a fresh interpreter, and used as
``backend="demo-statevector"`` without any edit of hybridqml. Its values and gradients are
checked against ``qiskit.quantum_info.Statevector``. Registration and removal at run time are
public functions, tested in this process.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import Statevector

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution import (
    BackendEntry,
    Capabilities,
    register_backend,
    registered_backends,
    unregister_backend,
)
from hybridqml.execution._estimator_executor import EstimatorExecutor

PLUGIN = '''
"""A third-party backend: Qiskit's exact statevector estimator under a new name."""

from qiskit.primitives import StatevectorEstimator

from hybridqml.execution import BackendEntry, Capabilities
from hybridqml.execution._estimator_executor import EstimatorExecutor


def build(spec, request):
    return EstimatorExecutor(request.shiftable, StatevectorEstimator(), name="demo-statevector")


ENTRY = BackendEntry(
    name="demo-statevector",
    build=build,
    capabilities=Capabilities(exact=True, shots=False, probabilities=False),
    help="Qiskit's StatevectorEstimator, as a plugin",
)
'''

BROKEN = """
import hq_missing_dependency  # not installed: the plugin cannot load

ENTRY = None
"""

SCRIPT = """
import json, sys
import numpy as np, torch
import hybridqml as hq
from hybridqml.execution import registered_backends

spec = hq.circuits.variational(2, 1)
layer = hq.QuantumLayer(
    spec, backend="demo-statevector", init=torch.tensor([0.3, -0.5], dtype=torch.float64)
)
x = torch.tensor([[0.2, 0.7], [-1.1, 0.4]], dtype=torch.float64, requires_grad=True)
out = layer(x)
out.sum().backward()
try:
    hq.QuantumLayer(spec, backend="demo-broken")
    broken = None
except hq.MissingDependencyError as exc:
    broken = str(exc)
print(json.dumps({
    "names": list(registered_backends()),
    "backend": layer.engine.backend_name,
    "out": out.tolist(),
    "x_grad": x.grad.tolist(),
    "w_grad": layer.weight.grad.tolist(),
    "broken": broken,
}))
"""


def _distribution(site: Path) -> None:
    """A module and its ``*.dist-info``, as ``pip install`` would leave them."""
    site.mkdir()
    (site / "hq_demo_backend.py").write_text(PLUGIN)
    (site / "hq_broken_backend.py").write_text(BROKEN)
    info = site / "hq_demo_backend-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hq-demo-backend\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [hybridqml.backends]
            demo = hq_demo_backend:ENTRY
            demo-broken = hq_broken_backend:ENTRY
            """
        )
    )


def _statevector_outputs(spec, values: np.ndarray) -> np.ndarray:
    """<O_j> of the spec's circuit at each row of parameter values, from ``Statevector``."""
    rows = []
    for row in np.atleast_2d(values):
        bound = spec.circuit.assign_parameters(dict(zip(spec.parameters, row, strict=True)))
        state = Statevector(bound)
        rows.append([state.expectation_value(obs).real for obs in spec.observables])
    return np.asarray(rows)


def _central_differences(spec, values: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """d sum_j <O_j> / d value, per row and parameter."""
    grads = np.zeros_like(values)
    for k in range(values.shape[1]):
        shift = np.zeros(values.shape[1])
        shift[k] = step
        up = _statevector_outputs(spec, values + shift).sum(axis=1)
        down = _statevector_outputs(spec, values - shift).sum(axis=1)
        grads[:, k] = (up - down) / (2 * step)
    return grads


def test_an_installed_plugin_is_a_backend_name_without_editing_hybridqml(tmp_path):
    site = tmp_path / "site"
    _distribution(site)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])

    assert "demo-statevector" in report["names"] and "aer" in report["names"]  # built-ins too
    assert report["backend"] == "demo-statevector"
    spec = circuits.variational(2, 1)
    x = np.array([[0.2, 0.7], [-1.1, 0.4]])
    values = np.hstack([x, np.tile([0.3, -0.5], (2, 1))])
    np.testing.assert_allclose(report["out"], _statevector_outputs(spec, values), atol=1e-10)
    grads = _central_differences(spec, values)  # the plugin's parameter-shift gradients
    np.testing.assert_allclose(report["x_grad"], grads[:, :2], atol=1e-6)
    np.testing.assert_allclose(report["w_grad"], grads[:, 2:].sum(axis=0), atol=1e-6)
    # a plugin that cannot be imported is reported with what to install, not as unknown
    assert "demo-broken" in report["broken"]
    assert "pip install hq_missing_dependency" in report["broken"]


def _statevector_entry(name: str) -> BackendEntry:
    return BackendEntry(
        name=name,
        build=lambda spec, request: EstimatorExecutor(
            request.shiftable, StatevectorEstimator(), name=name
        ),
        capabilities=Capabilities(exact=True, shots=False, probabilities=False),
    )


def test_backends_are_registered_and_removed_at_run_time():
    register_backend(_statevector_entry("runtime-statevector"))
    try:
        assert "runtime-statevector" in registered_backends()
        with pytest.raises(ConfigurationError, match="registered already"):
            register_backend(_statevector_entry("runtime-statevector"))
        spec = circuits.ry(2)
        layer = hq.QuantumLayer(spec, backend="runtime-statevector")
        x = torch.tensor([[0.4, -1.3]], dtype=torch.float64)
        np.testing.assert_allclose(
            layer(x).detach().numpy(), _statevector_outputs(spec, x.numpy()), atol=1e-10
        )
    finally:
        removed = unregister_backend("runtime-statevector")
    assert removed.name == "runtime-statevector"
    assert "runtime-statevector" not in registered_backends()
    with pytest.raises(ConfigurationError, match="unknown backend 'runtime-statevector'"):
        hq.QuantumLayer(circuits.ry(2), backend="runtime-statevector")
