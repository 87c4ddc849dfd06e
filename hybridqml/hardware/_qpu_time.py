"""QPU time of circuits on a device, estimated from the gate durations in its ``Target``.

The estimate of one call is ``sum over its circuits of bindings x shots x (duration + rep
delay)``, where ``duration`` is the circuit's longest path through the target's gate and
measurement durations (Qiskit's ``QuantumCircuit.estimate_duration``) and ``rep delay`` the
device's delay between shots (its ``default_rep_delay``, else :data:`DEFAULT_REP_DELAY`). It
leaves out what IBM also bills or spends: loading each job's circuits and parameters into the
control electronics, and queueing and classical pre/post-processing; so read it as a lower
bound of the QPU time (:data:`ASSUMPTIONS` states this for reports). Devices without durations
(simulators, ``GenericBackendV2`` without them) give no estimate.

Example:
    >>> from qiskit import QuantumCircuit, transpile
    >>> from qiskit_ibm_runtime.fake_provider import FakeManilaV2
    >>> device = FakeManilaV2()
    >>> qc = QuantumCircuit(1); _ = qc.h(0); _ = qc.measure_all()
    >>> per_shot = shot_seconds([transpile(qc, device, seed_transpiler=0)], device)
    >>> 250e-6 < per_shot[0] < 260e-6      # rep delay 250 us + a few us of gates and readout
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

__all__ = ["ASSUMPTIONS", "DEFAULT_REP_DELAY", "rep_delay", "shot_seconds"]

DEFAULT_REP_DELAY: Final[float] = 250e-6
"""Delay between shots (s) when a device does not state its own (IBM's usual default)."""

ASSUMPTIONS: Final[str] = (
    "QPU time = sum over calls of circuits x bindings x shots x (circuit duration + rep delay); "
    "circuit duration = longest path through the device target's gate and readout durations; "
    "rep delay = the device's default_rep_delay (else 250 us); not included: per-job loading "
    "of circuits into the control electronics, queueing, transpilation and classical "
    "processing, which IBM may bill as well, so treat it as a lower bound"
)
"""How the QPU-time estimate is made (printed with every estimate)."""


def rep_delay(device: Any) -> float:
    """The device's delay between shots in seconds (:data:`DEFAULT_REP_DELAY` when unknown)."""
    value = getattr(device, "default_rep_delay", None)
    if value is None and callable(getattr(device, "configuration", None)):
        try:
            value = getattr(device.configuration(), "default_rep_delay", None)
        except Exception:  # no configuration: the default
            value = None
    try:
        return float(value) if value is not None else DEFAULT_REP_DELAY
    except (TypeError, ValueError):
        return DEFAULT_REP_DELAY


def shot_seconds(circuits: Sequence[Any], device: Any) -> list[float] | None:
    """Seconds one shot of each ISA circuit holds the device, or ``None`` without durations.

    Args:
        circuits: Circuits already transpiled to ``device``'s ISA.
        device: A ``BackendV2`` whose ``target`` has instruction durations.
    """
    target = getattr(device, "target", None)
    if target is None or not circuits:
        return None
    delay = rep_delay(device)
    out = []
    for circuit in circuits:
        try:
            duration = float(circuit.estimate_duration(target, unit="s"))
        except Exception:  # a target without durations, or a gate it cannot time
            return None
        if not duration > 0.0:
            return None
        out.append(duration + delay)
    return out
