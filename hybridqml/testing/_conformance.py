"""The backend conformance suite: one call tells a backend author whether hybridqml can trust it.

:func:`check_backend` builds layers on the backend through the public API
(:class:`~hybridqml.QuantumLayer`, :class:`~hybridqml.SamplerLayer`, :class:`~hybridqml.Tracker`)
and holds them to what hybridqml promises, in the spirit of PennyLane's device test suite:

* ``values`` -- expectation values of three circuits (the textbook 1-qubit RY with a batch of
  one, a 3-qubit entangling ansatz with a batch of five, parameter products and expressions
  with an unbatched input) equal an independent reference: Qiskit's ``Statevector``, or the
  exact noisy values of the backend's noise model (Aer density matrix) when it declares noise;
  the RY circuit also its closed form ``-sin x``.
* ``gradients`` -- input and weight gradients equal central differences of the backend's own
  exact values (of the reference's values when the backend samples, within the shot noise).
* ``calls`` -- a forward pass of a batch is one primitive call, its backward pass one more.
* ``dry_run`` -- inside ``dry_run()`` the counted calls, bindings and shots equal a real pass's,
  and nothing runs (zeros come back; torch-native gradients compute locally and are exempt).
* ``chunks`` -- a pass split under a small ``max_memory_bytes`` gives the values of one call.
* ``shots`` -- when the layer samples: the mean of many estimates within a few standard errors
  of the exact value, their variance that of the binomial law, a seeded layer reproducible,
  successive passes and other seeds drawing other shots.
* ``probabilities`` -- when it has probability outputs: rows sum to 1 and equal the
  reference's outcome probabilities.

Checks a backend does not declare are skipped and listed in the returned report. Failures are
collected and raised together as one ``AssertionError`` naming each check, circuit and number.

Example:
    >>> from hybridqml.testing import check_backend
    >>> report = check_backend("torch")
    >>> report.ran
    ('values', 'gradients', 'calls', 'dry_run', 'probabilities')
    >>> [check for check, _ in report.skipped]
    ['chunks', 'shots']
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hybridqml import ConfigurationError, QuantumLayer, SamplerLayer, Tracker
from hybridqml.execution._tracking import dry_run
from hybridqml.testing._assertions import compare, law_of_shots
from hybridqml.testing._cases import SIGMAS, Case, cases, shot_sigma
from hybridqml.testing._declared import declared, reference_for

__all__ = ["CHECKS", "ConformanceReport", "check_backend"]

CHECKS = ("values", "gradients", "calls", "dry_run", "chunks", "shots", "probabilities")
"""Every check, in the order they run."""

#: Agreement required of exact values and probabilities (float64 simulators reach ~1e-12).
EXACT_ATOL = 1e-8
#: Agreement required of exact gradients with central differences of step :data:`FD_STEP`.
GRADIENT_ATOL = 1e-6
FD_STEP = 1e-4
#: Agreement required of a split pass with one call (exact, or the same seeded draws).
CHUNK_ATOL = 1e-12
#: Bindings per call under the small memory budget of the ``chunks`` check.
CHUNK_BINDINGS = 2
#: Seed given to sampling layers when the caller gives none: the checks are reproducible.
CHECK_SEED = 1234
#: Angles of the 1-qubit RY circuit at which the law of the shots is checked, and estimates
#: drawn at each.
SHOT_ANGLES = (0.4, 1.3, 2.2)
SHOT_ROWS = 150
#: Counters a dry run must reproduce.
COUNTED = ("calls", "circuits", "evaluations", "shots", "executed_shots")


@dataclass(frozen=True)
class ConformanceReport:
    """What :func:`check_backend` ran and skipped on a backend that passed.

    Attributes:
        backend: The backend's name.
        reference: What its values were compared with (``"Statevector"``, ``"Aer density
            matrix"``).
        ran: The checks that ran (and passed).
        skipped: ``(check, reason)`` for each check that did not apply or was not selected.
    """

    backend: str
    reference: str
    ran: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


class _Skip(Exception):
    """A check that does not apply to this backend (the message says why)."""


def check_backend(
    backend: Any,
    /,
    *,
    reference: Any = None,
    checks: Collection[str] | None = None,
    **options: Any,
) -> ConformanceReport:
    """Check that ``backend`` computes what hybridqml promises; raise if it does not.

    Args:
        backend: A backend spec as ``QuantumLayer`` takes it: a name (``"aer"``,
            ``"fake_manila"``, a plugin's name) or an object (``BaseEstimatorV2``,
            ``BackendV2``...).
        reference: The reference of the values: ``None`` (the exact noisy values of the
            backend's noise model when it declares noise, else ``Statevector``),
            ``"statevector"``, or the noisy device it simulates (a fake device, an
            ``AerSimulator`` with a noise model, any ``BackendV2``).
        checks: Names from :data:`CHECKS` to run (default: all).
        **options: Layer options: ``shots``, ``seed`` (default :data:`CHECK_SEED` with shots
            or SPSA; none on exact runs, which refuse an unused seed),
            ``backend_options``, ``optimization_level``, ``gradient``.

    Returns:
        The checks that ran and those skipped, with the reason.

    Raises:
        AssertionError: the backend failed a check; the message lists every failure with its
            check, circuit, numbers and tolerance.
        ConfigurationError: unknown check names, or a noisy backend whose noise model is
            unknown (pass ``reference``); also a ``ValueError``.

    Example:
        >>> from qiskit.primitives import StatevectorEstimator
        >>> check_backend(StatevectorEstimator(), checks=["values", "calls"]).ran
        ('values', 'calls')
    """
    unknown = set(checks or ()) - set(CHECKS)
    if unknown:
        raise ConfigurationError(
            f"unknown checks {sorted(unknown)}; choose from {', '.join(CHECKS)}"
        )
    if options.get("shots") is not None or options.get("gradient") == "spsa":
        options = {"seed": CHECK_SEED, **options}  # exact runs refuse a seed they never use
    run = _Run(backend, options, reference)
    ran, skipped, failures, cause = [], [], [], None
    for name in CHECKS:
        if checks is not None and name not in checks:
            skipped.append((name, "not selected"))
            continue
        try:
            problems = _RUNNERS[name](run)
        except _Skip as skip:
            skipped.append((name, str(skip)))
            continue
        except Exception as exc:  # a backend that raises fails the check it was running
            problems, cause = [f"raised {type(exc).__name__}: {exc}"], cause or exc
        ran.append(name)
        failures += [f"[{name}] {problem}" for problem in problems]
    if failures:
        lines = "\n  ".join(failures)
        raise AssertionError(
            f"backend {run.label!r} failed the conformance suite ({len(failures)} failures) "
            f"against {run.reference.name}:\n  {lines}"
        ) from cause
    return ConformanceReport(run.label, run.reference.name, tuple(ran), tuple(skipped))


class _Run:
    """The backend under test, its options, declared kind, reference and layers."""

    def __init__(self, backend: Any, options: Mapping[str, Any], reference: Any) -> None:
        self.backend, self.options = backend, dict(options)
        self.kind = declared(backend, self.options)
        self.reference = reference_for(backend, self.options, self.kind, reference)
        self.cases = {case.name: case for case in cases()}
        self._layers: dict[str, QuantumLayer] = {}
        self.label = backend if isinstance(backend, str) else type(backend).__name__

    def layer(self, case: Case) -> QuantumLayer:
        """The case's layer (built once; the checks that rebuild its backend run last)."""
        if case.name not in self._layers:
            self._layers[case.name] = self.new_layer(case)
        return self._layers[case.name]

    def new_layer(self, case: Case, cls: type[QuantumLayer] = QuantumLayer) -> QuantumLayer:
        """A fresh layer of ``cls`` on the backend, with the case's weights."""
        init = torch.tensor(case.weights, dtype=torch.float64)
        return cls(case.spec, backend=self.backend, init=init, **self.options)

    def shots(self, layer: QuantumLayer) -> int | None:
        """Shots per evaluation of ``layer``: ``None`` when exact (devices default to shots)."""
        return layer.engine.shots

    def native(self, layer: QuantumLayer) -> bool:
        """Whether torch computes ``layer``'s gradients (locally, with no shift plan)."""
        return layer.engine.gradient in self.kind.native_gradients

    def tolerance(self, case: Case, layer: QuantumLayer) -> float:
        """Agreement required of one value: exact, or :data:`SIGMAS` standard errors."""
        shots = self.shots(layer)
        return EXACT_ATOL if shots is None else SIGMAS * shot_sigma(case, shots)


def _forward(layer: QuantumLayer, case: Case, theta: np.ndarray) -> np.ndarray:
    """(N, O) outputs at parameter rows ``theta``: one forward call, weights per row."""
    t = torch.as_tensor(theta, dtype=torch.float64)
    n = case.spec.n_inputs
    with torch.no_grad():
        out = layer(t[:, :n], t[:, n:] if case.spec.n_weights else None)
    return out.numpy()


def _check_values(run: _Run) -> list[str]:
    failures = []
    for case in run.cases.values():
        layer = run.layer(case)
        with torch.no_grad():
            got = layer(torch.tensor(case.inputs)).numpy()
        want = run.reference.values(case.spec, case.theta)
        if case.inputs.ndim == 1:
            want = want[0]
        tol = run.tolerance(case, layer)
        failures += compare(case, "values", got, want, tol, run.reference.name)
        if case.name == "ry" and not run.kind.noise:  # H then RY(x): <Z> = -sin x
            failures += compare(
                case, "values", got, -np.sin(case.inputs), tol, "closed form -sin x"
            )
    return failures


def _jacobian(run: _Run, case: Case, layer: QuantumLayer) -> np.ndarray:
    """(B, O, P) central differences: of the backend when exact, else of the reference."""
    theta = case.theta
    b, p = theta.shape
    steps = FD_STEP * np.eye(p)
    rows = np.concatenate([theta[:, None, :] + steps, theta[:, None, :] - steps]).reshape(-1, p)
    if run.shots(layer) is None:
        values = _forward(layer, case, rows)
    else:
        values = run.reference.values(case.spec, rows)
    plus, minus = values.reshape(2, b, p, -1)
    return np.swapaxes((plus - minus) / (2 * FD_STEP), 1, 2)


def _check_gradients(run: _Run) -> list[str]:
    failures = []
    rng = np.random.default_rng(7)
    for case in run.cases.values():
        layer = run.layer(case)
        layer.zero_grad(set_to_none=True)
        x = torch.tensor(case.inputs, requires_grad=True)
        out = layer(x)
        cotangent = rng.normal(size=tuple(out.shape))
        (out * torch.from_numpy(cotangent)).sum().backward()
        vjp = np.einsum("bo,bop->bp", np.atleast_2d(cotangent), _jacobian(run, case, layer))
        shots, n = run.shots(layer), case.spec.n_inputs
        atol = GRADIENT_ATOL
        if shots is not None:  # a parameter-shift estimate's noise, summed over the cotangent
            spread = np.sqrt(case.shift_weight / 2) * shot_sigma(case, shots)
            atol = SIGMAS * spread * float(np.linalg.norm(cotangent))
        want_x = vjp[:, :n].reshape(case.inputs.shape)
        against = "central differences" if shots is None else "reference central differences"
        failures += compare(case, "input gradients", x.grad, want_x, atol, against)
        if case.spec.n_weights:
            got_w, want_w = layer.weight.grad, vjp[:, n:].sum(axis=0)
            failures += compare(case, "weight gradients", got_w, want_w, atol, against)
    return failures


def _check_calls(run: _Run) -> list[str]:
    case = run.cases["variational"]
    layer = run.layer(case)
    x = torch.tensor(case.inputs, requires_grad=True)
    with Tracker() as forward:
        out = layer(x)
    with Tracker() as backward:
        out.sum().backward()
    failures = []
    b = case.inputs.shape[0]
    if (forward.calls, forward.evaluations) != (1, b):
        failures.append(
            f"{case.describe()}: a forward pass made {forward.calls} primitive calls of "
            f"{forward.evaluations} bindings in all, expected 1 call of {b} bindings"
        )
    if backward.calls != 1:
        failures.append(
            f"{case.describe()}: a backward pass made {backward.calls} primitive calls "
            f"({backward.evaluations} bindings in all), expected 1"
        )
    return failures


def _counted_pass(layer: QuantumLayer, case: Case, dry: bool) -> tuple[dict[str, int], bool]:
    """Counters of one forward and backward pass, and whether every output and gradient was 0."""
    x = torch.tensor(case.inputs, requires_grad=True)
    layer.zero_grad(set_to_none=True)
    with Tracker() as tracker:
        if dry:
            with dry_run():
                out = layer(x)
                out.sum().backward()
        else:
            out = layer(x)
            out.sum().backward()
    assert x.grad is not None  # the backward pass ran
    zeros = not out.detach().any() and not x.grad.any()
    return {name: getattr(tracker, name) for name in COUNTED}, bool(zeros)


def _check_dry_run(run: _Run) -> list[str]:
    case = run.cases["variational"]
    layer = run.layer(case)
    real, _ = _counted_pass(layer, case, dry=False)
    counted, zeros = _counted_pass(layer, case, dry=True)
    failures = []
    if counted != real:
        failures.append(
            f"{case.describe()}: a dry-run forward and backward pass counted {counted}, a real "
            f"pass records {real}"
        )
    if not zeros and not run.native(layer):
        failures.append(
            f"{case.describe()}: the dry run executed: outputs or gradients are not zero (a dry "
            "run must send nothing and return zeros)"
        )
    return failures


def _pass_values(layer: QuantumLayer, case: Case) -> tuple[np.ndarray, ...]:
    """Outputs, input gradients and weight gradients of one forward and backward pass."""
    layer.zero_grad(set_to_none=True)
    x = torch.tensor(case.inputs, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert x.grad is not None and layer.weight.grad is not None  # the backward pass ran
    return out.detach().numpy(), x.grad.numpy(), layer.weight.grad.numpy()


def _check_chunks(run: _Run) -> list[str]:
    case = run.cases["variational"]
    layer = run.layer(case)
    if run.native(layer):
        raise _Skip(f"torch computes {layer.engine.gradient!r} gradients: passes are not split")
    binding = layer.engine.executor.binding_bytes  # the Executor contract: None never splits
    if binding is None:
        raise _Skip("the backend declares no memory per binding (binding_bytes): never splits")
    if run.shots(layer) is not None:  # a fresh executor: its first pass draws the first seed
        layer.set_backend(run.backend, **run.options)
    whole = _pass_values(layer, case)
    backend_options = dict(run.options.get("backend_options") or {})
    backend_options["max_memory_bytes"] = CHUNK_BINDINGS * binding
    layer.set_backend(run.backend, **{**run.options, "backend_options": backend_options})
    with Tracker() as tracker:
        split = _pass_values(layer, case)
    if tracker.calls <= 2:
        return [f"{case.describe()}: a budget of {CHUNK_BINDINGS} bindings did not split the pass"]
    failures = []
    names = ("values", "input gradients", "weight gradients")
    for what, got, want in zip(names, split, whole, strict=True):
        failures += compare(case, what, got, want, CHUNK_ATOL, f"one call ({what})")
    return failures


def _check_shots(run: _Run) -> list[str]:
    spec = run.cases["ry"].spec
    shots = run.shots(run.layer(run.cases["ry"]))
    if shots is None:
        raise _Skip("exact configuration (shots=None): nothing is sampled")
    few = np.array(SHOT_ANGLES)[:, None]
    small = Case("ry", spec, few, np.zeros(0))
    layer, failures = run.new_layer(small), []
    first = _forward(layer, small, few)
    if np.array_equal(first, _forward(layer, small, few)):
        failures.append(f"{small.describe()}: two passes drew the same shots")
    seed = run.options.get("seed")
    if seed is not None:
        layer.set_backend(run.backend, **run.options)  # a fresh executor: the first seed again
        if not np.array_equal(_forward(layer, small, few), first):
            failures.append(f"{small.describe()}: seed={seed} did not reproduce the first pass")
        layer.set_backend(run.backend, **{**run.options, "seed": seed + 1})
        if np.array_equal(_forward(layer, small, few), first):
            failures.append(f"{small.describe()}: seeds {seed} and {seed + 1} drew the same shots")
    case = Case("ry", spec, np.repeat(few, SHOT_ROWS, axis=0), np.zeros(0))
    exact = run.reference.values(spec, few)[:, 0]
    return failures + law_of_shots(
        case, SHOT_ANGLES, _forward(layer, case, case.inputs)[:, 0], exact, shots
    )


def _check_probabilities(run: _Run) -> list[str]:
    case = run.cases["variational"]
    if run.kind.probabilities is False:
        raise _Skip("the backend declares no probability outputs")
    try:
        layer = run.new_layer(case, SamplerLayer)
    except ConfigurationError as exc:  # e.g. an Estimator primitive: it has no samples
        raise _Skip(f"no probability outputs: {exc}") from None
    probs = _forward(layer, case, case.theta)
    shots = run.shots(layer)
    atol = EXACT_ATOL if shots is None else SIGMAS * 0.5 / np.sqrt(shots)
    want = run.reference.probabilities(case.spec, case.theta)
    sums = probs.sum(axis=1)
    return compare(case, "probability sums", sums, np.ones_like(sums), EXACT_ATOL, "1") + (
        compare(case, "probabilities", probs, want, atol, run.reference.name)
    )


_RUNNERS: dict[str, Callable[[_Run], list[str]]] = {
    "values": _check_values,
    "gradients": _check_gradients,
    "calls": _check_calls,
    "dry_run": _check_dry_run,
    "chunks": _check_chunks,
    "shots": _check_shots,
    "probabilities": _check_probabilities,
}
