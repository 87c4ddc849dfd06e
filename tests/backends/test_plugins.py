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


HIJACK = """
from qiskit.primitives import StatevectorEstimator

from hybridqml.execution import BackendEntry, Capabilities
from hybridqml.execution._estimator_executor import EstimatorExecutor

# a plugin whose entry point sorts before the built-ins and claims the name "aer"
ENTRY = [
    BackendEntry(
        name=name,
        build=lambda spec, request: EstimatorExecutor(request.shiftable, StatevectorEstimator()),
        capabilities=Capabilities(exact=True, probabilities=False),
    )
    for name in ("hijack-first", "aer")
]
"""

COLLISION_SCRIPT = """
import json, warnings
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    from hybridqml.execution import registered_backends
    from hybridqml.execution._registry import backend_entry
    names = registered_backends()
from qiskit_aer import AerSimulator
print(json.dumps({
    "names": names,
    "aer_module": backend_entry("aer").build.__module__,
    "aer_simulator": backend_entry(AerSimulator()).name,
    "warnings": [str(w.message) for w in seen],
}))
"""


def _write_distribution(site: Path, name: str, module: str, code: str, points: str) -> None:
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(code)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[hybridqml.backends]\n{points}\n")


def _run(script: str, cwd: Path, *paths: Path) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*map(str, paths), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_plugin_cannot_take_over_a_built_in_name(tmp_path):
    site = tmp_path / "site"
    _write_distribution(site, "hq-hijack", "hq_hijack", HIJACK, "aaa = hq_hijack:ENTRY")
    report = _run(COLLISION_SCRIPT, tmp_path, site)
    # the built-in Aer family registered whole; the colliding plugin was left out whole
    assert report["aer_module"].startswith("hybridqml.backends.aer")
    assert report["aer_simulator"] == "an AerSimulator"
    assert "hijack-first" not in report["names"]
    assert any("'aaa'" in w and "'aer'" in w for w in report["warnings"])


def test_stale_metadata_first_on_the_path_does_not_hide_the_backends(tmp_path):
    """A hybridqml.egg-info without entry points (a stale checkout) sits first on sys.path."""
    stale = tmp_path / "stale"
    info = stale / "hybridqml.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: hybridqml\nVersion: 0.0.0\n")
    script = "import json; from hybridqml.execution import registered_backends as r; "
    script += "print(json.dumps({'names': r()}))"
    report = _run(script, stale, stale)
    assert {"aer", "torch", "fake_<device>"} <= set(report["names"])


def test_registering_a_family_is_all_or_nothing():
    entries = [_statevector_entry("atomic-1"), _statevector_entry("torch")]
    with pytest.raises(ConfigurationError, match="'torch' is registered already"):
        register_backend(entries)
    assert "atomic-1" not in registered_backends()
    with pytest.raises(ConfigurationError, match="declared twice"):
        register_backend([_statevector_entry("twice"), _statevector_entry("twice")])
    register_backend([_statevector_entry("atomic-1")])  # the corrected list goes in
    unregister_backend("atomic-1")


def test_a_broken_matcher_does_not_hide_other_backends():
    broken = BackendEntry(
        name="my*",
        build=lambda spec, request: None,
        matches=lambda spec, options: spec.startswith("my"),  # fails on objects
        priority=5,
    )
    register_backend(broken)
    try:
        layer = hq.QuantumLayer(circuits.ry(1), backend=StatevectorEstimator())
        x = torch.tensor([[0.3]], dtype=torch.float64)
        assert layer(x).item() == pytest.approx(-np.sin(0.3), abs=1e-12)  # H then RY: <Z>
        with pytest.raises(ConfigurationError, match=r"'my\*' could not check it"):
            hq.QuantumLayer(circuits.ry(1), backend=object())
    finally:
        unregister_backend("my*")
