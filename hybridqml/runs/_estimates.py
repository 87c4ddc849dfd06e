"""What a run will send before it sends anything: :func:`estimate_run` and start budgets.

:func:`estimate_run` runs the workflow's own train function, in a temporary folder, inside
:func:`hybridqml.execution.dry_run`: every executor counts the calls, circuits, bindings
and shots it *would* send (memory splits and measurement groups included) and returns zeros
instead of running anything, while the classical part of the run goes on as usual. It trains two
epochs (one if the run has one): everything before the first epoch, the second epoch (every epoch
makes the same calls: the same batches sizes, the same evaluation passes) and everything after the
last epoch (final evaluations, plots) give the totals of a run of any length:
``total = before + epochs x per epoch + after``. The counts are therefore exactly those of the
real run (tests compare them with a :class:`~hybridqml.execution.Tracker` and the job
log of one), split by the kind of pass that makes them: ``"forward"`` passes and each gradient
rule (``"parameter-shift"``, ``"spsa"``, ...). :func:`hybridqml.estimate_cost` is the same by
workflow name.

QPU time is estimated per call from the device's gate durations
(``hybridqml.hardware._qpu_time``, whose :data:`~hybridqml.hardware._qpu_time.ASSUMPTIONS`
are printed with it); it is ``0`` for simulators without durations and for exact (shot-free) runs.

Budgets: a run whose config sets ``max_shots`` or ``max_qpu_seconds`` is estimated first and
refused (:class:`~hybridqml.exceptions.BudgetExceededError`) if the whole run would exceed them
(:func:`check_start_budget`, called by :func:`hybridqml.runs.run_folder`).

Example:
    >>> from hybridqml.runs import RunConfig
    >>> def train(config):  # a workflow's train function (this one sends nothing)
    ...     return None
    >>> est = estimate_run(RunConfig(out_dir=".", epochs=3), train, workflow="toy")
    >>> est.total.calls == est.before.calls + 3 * est.per_epoch.calls + est.after.calls
    True
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridqml.exceptions import BudgetExceededError, ConfigurationError
from hybridqml.execution import _tracking as tracking
from hybridqml.hardware._qpu_time import ASSUMPTIONS

__all__ = ["CallCounts", "CostEstimate", "check_start_budget", "estimate_run"]

_FIELDS = tracking.COUNTERS  # the fields of CallCounts, in the order a Tracker counts them


@dataclass(frozen=True)
class CallCounts:
    """What some calls send.

    Attributes:
        calls: Primitive calls (jobs on hardware).
        circuits: Circuits submitted, summed over calls.
        evaluations: Bindings (parameter sets) evaluated.
        shots: Bindings x shots per binding.
        executed_shots: Circuits x bindings x shots: what a device executes (and bills).
        qpu_seconds: Estimated QPU seconds (see ``hybridqml.hardware._qpu_time``).
    """

    calls: int = 0
    circuits: int = 0
    evaluations: int = 0
    shots: int = 0
    executed_shots: int = 0
    qpu_seconds: float = 0.0

    @classmethod
    def of(cls, counts: Mapping[str, Any]) -> CallCounts:
        """From a tracker snapshot (or any mapping with the counter names)."""
        return cls(**{f: type(getattr(cls, f))(counts.get(f, 0)) for f in _FIELDS})

    def __add__(self, other: CallCounts) -> CallCounts:
        return CallCounts(**{f: getattr(self, f) + getattr(other, f) for f in _FIELDS})

    def __sub__(self, other: CallCounts) -> CallCounts:
        return CallCounts(**{f: getattr(self, f) - getattr(other, f) for f in _FIELDS})

    def times(self, n: int) -> CallCounts:
        """These counts ``n`` times."""
        return CallCounts(**{f: getattr(self, f) * n for f in _FIELDS})


@dataclass(frozen=True)
class CostEstimate:
    """What a workflow run will send, per epoch and in total.

    Attributes:
        workflow: Workflow name.
        backend: The backend setting.
        epochs: Epochs of the run.
        before: Calls before the first epoch.
        per_epoch: Calls of one epoch (training steps and the epoch's evaluation).
        after: Calls after the last epoch (final evaluation, plots).
        total: ``before + epochs x per_epoch + after``.
        per_epoch_by_kind: ``per_epoch`` split by pass kind (``"forward"``, gradient rules).
        total_by_kind: ``total`` split the same way.
        assumptions: How the QPU time is estimated.
        mitigation: The error mitigation's cost multiplier, in words (``None``: no mitigation).
    """

    workflow: str
    backend: str
    epochs: int
    before: CallCounts
    per_epoch: CallCounts
    after: CallCounts
    total: CallCounts
    per_epoch_by_kind: dict[str, CallCounts]
    total_by_kind: dict[str, CallCounts]
    assumptions: str = ASSUMPTIONS
    mitigation: str | None = None

    def format(self) -> str:
        """A table for people (what ``hybridqml train ... --dry-run`` prints)."""
        head = f"{'':30}{'calls':>8}{'circuits':>12}{'bindings':>14}{'shots':>16}{'QPU s':>12}"
        rows = [
            f"dry run of {self.workflow!r} on backend {self.backend!r}, {self.epochs} epochs "
            "(nothing was sent)",
            head,
        ]

        def row(label: str, c: CallCounts) -> str:
            return (
                f"{label:30}{c.calls:>8,}{c.circuits:>12,}{c.evaluations:>14,}"
                f"{c.executed_shots:>16,}{c.qpu_seconds:>12,.1f}"
            )

        for kind, counts in sorted(self.per_epoch_by_kind.items()):
            rows.append(row(f"per epoch: {kind}", counts))
        rows.append(row("per epoch", self.per_epoch))
        if self.before.calls or self.after.calls:
            rows.append(row("before/after epochs", self.before + self.after))
        for kind, counts in sorted(self.total_by_kind.items()):
            rows.append(row(f"total: {kind}", counts))
        rows.append(row("total", self.total))
        rows.append("shots = executed shots (circuits x bindings x shots per binding)")
        if self.mitigation:
            rows.append(f"mitigation: {self.mitigation}")
        rows.append(f"assumptions: {self.assumptions}")
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values."""
        return dataclasses.asdict(self)


def _diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[CallCounts, dict[str, CallCounts]]:
    kinds = set(a["by_kind"]) | set(b["by_kind"])
    by_kind = {
        k: CallCounts.of(a["by_kind"].get(k, {})) - CallCounts.of(b["by_kind"].get(k, {}))
        for k in kinds
    }
    return CallCounts.of(a) - CallCounts.of(b), {k: c for k, c in by_kind.items() if c.calls}


def estimate_run(config: Any, train: Callable[[Any], Any], *, workflow: str) -> CostEstimate:
    """Count what ``train(config)`` will send, without sending anything (a dry run).

    The workflow supplies its train function: ``train`` runs on a copy of ``config`` with at
    most two epochs, in a temporary folder, inside :func:`hybridqml.execution.dry_run`
    (see the module docstring); :func:`hybridqml.estimate_cost` finds ``train`` by workflow name.

    Args:
        config: A run config (a :class:`~hybridqml.runs.RunConfig` or any dataclass with
            ``epochs``; ``out_dir`` is replaced: nothing is written there).
        train: ``train(config) -> result`` of the workflow.
        workflow: The workflow's name (recorded in the estimate).

    Returns:
        The :class:`CostEstimate`; ``print(estimate.format())`` shows it.
    """
    probe_epochs = min(config.epochs, 2)
    with tempfile.TemporaryDirectory(prefix="hybridqml-dry-run-") as tmp:
        probe = dataclasses.replace(
            config,
            **_probe_settings(config, Path(tmp) / "run", probe_epochs),
        )
        with tracking.Tracker() as tracker, tracking.dry_run():
            train(probe)
    marks = dict(tracker.marks)
    end = tracker.snapshot()
    loop_end = marks.get("end", end)
    first = marks.get("epoch 1", loop_end)  # no epoch ran (epochs=0): the loop's end
    last = marks.get(f"epoch {probe_epochs}", first)
    before, before_kind = _diff(first, _zero())
    per_epoch, per_kind = _diff(loop_end, last)
    after, after_kind = _diff(end, loop_end)
    total = _whole_run(before, per_epoch, after, config.epochs)
    total_kind = {
        k: _whole_run(
            before_kind.get(k, CallCounts()),
            per_kind.get(k, CallCounts()),
            after_kind.get(k, CallCounts()),
            config.epochs,
        )
        for k in set(before_kind) | set(per_kind) | set(after_kind)
    }
    return CostEstimate(
        workflow=workflow,
        backend=str(getattr(config, "backend", "-")),
        epochs=config.epochs,
        before=before,
        per_epoch=per_epoch,
        after=after,
        total=total,
        per_epoch_by_kind=per_kind,
        total_by_kind=total_kind,
        mitigation=_mitigation_cost(getattr(config, "mitigation", None)),
    )


def _mitigation_cost(mitigation: Any) -> str | None:
    """The cost multiplier of a mitigation setting, in words (counted in the table above).

    Example:
        >>> for part in _mitigation_cost("zne").split("; "):
        ...     print(part[:58])
        zne: x3 circuits per evaluation (ZNE scale factors 1, 3, 5
        parameter-shift backward passes: about x9 circuit bindings
    """
    from hybridqml.mitigation._options import as_mitigation

    settings = as_mitigation(mitigation)
    if settings is None:
        return None
    parts = [f"{settings.label}: x{settings.cost_multiplier:g} circuits per evaluation"]
    if settings.zne:
        factors = ", ".join(f"{s:g}" for s in settings.scale_factors)
        parts[0] += f" (ZNE scale factors {factors}: included above)"
        if settings.shift_rule == "per-copy":
            parts.append(
                f"parameter-shift backward passes: about x{settings.gradient_cost_multiplier:g} "
                "circuit bindings (each folded copy of a rotation shifted on its own, for exact "
                "gradients: included above)"
            )
    if settings.readout:
        parts.append(
            f"readout calibration: 2 circuits x {settings.calibration_shots:,} shots when "
            "measured on the device (included above; free on simulators with a noise model)"
        )
    return "; ".join(parts)


def _whole_run(
    before: CallCounts, per_epoch: CallCounts, after: CallCounts, epochs: int
) -> CallCounts:
    """``before + epochs x per_epoch + after``: every epoch makes the same calls."""
    return before + per_epoch.times(epochs) + after


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(_FIELDS, 0), "by_kind": {}}


def _probe_settings(config: Any, out: Path, epochs: int) -> dict[str, Any]:
    fields = {f.name for f in dataclasses.fields(config)}
    values: dict[str, Any] = {"out_dir": out, "epochs": epochs}
    for name, value in (
        ("resume", False),
        ("overwrite", False),
        ("progress", False),
        ("max_shots", None),
        ("max_qpu_seconds", None),
        ("checkpoint_every", None),
        ("tensorboard_dir", None),  # a dry run logs nothing
    ):
        if name in fields:
            values[name] = value
    return values


def check_start_budget(
    config: Any, estimate: Callable[[], CostEstimate] | None
) -> CostEstimate | None:
    """Refuse a run whose estimate exceeds its ``max_shots``/``max_qpu_seconds``.

    Args:
        config: The run's config (``max_shots`` and ``max_qpu_seconds`` where it has them).
        estimate: Makes the run's estimate (called only when a budget is set; the workflow
            supplies it, e.g. ``lambda: estimate_run(config, train, workflow=name)``).

    Returns:
        The estimate (``None`` when the config sets no budget, or inside a dry run).

    Raises:
        BudgetExceededError: naming the estimate, the budget and the flags (``checkpoint`` is
            ``None``: nothing ran).
        ConfigurationError: a budget is set but no ``estimate`` was given.
    """
    limits = {
        "shots": getattr(config, "max_shots", None),
        "qpu_seconds": getattr(config, "max_qpu_seconds", None),
    }
    if tracking.is_dry_run() or all(v is None for v in limits.values()):
        return None
    if estimate is None:
        raise ConfigurationError(
            "max_shots/max_qpu_seconds need an estimate of the run: train it through its "
            "workflow (hybridqml train, or the workflow's train function)"
        )
    plan = estimate()
    needed = {"shots": plan.total.executed_shots, "qpu_seconds": plan.total.qpu_seconds}
    for kind, limit in limits.items():
        if limit is not None and needed[kind] > limit:
            flag = "--max-shots" if kind == "shots" else "--max-qpu-seconds"
            unit = "executed shots" if kind == "shots" else "QPU seconds (estimated)"
            raise BudgetExceededError(
                f"refusing to start: the run needs {needed[kind]:,.6g} {unit} in "
                f"{plan.total.calls:,} calls over {plan.epochs} epochs, more than "
                f"{flag} {limit:,.6g}. Raise {flag}, or use fewer epochs, shots or data "
                "(see the plan with --dry-run)",
                kind=kind,
                spent=needed[kind],
                limit=limit,
            )
    return plan
