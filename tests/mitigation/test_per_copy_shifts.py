"""The per-copy shift rule through ZNE: gate angles, counts, split passes, shots, fallback.

References: Operator (the rewritten circuit is the same unitary), written-out copy counts
(global folding at scale s repeats every gate s times), one unsplit call, central differences
of the exact mitigated values.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import Operator

import hybridqml as hq
from hybridqml.exceptions import CircuitError, ConfigurationError
from hybridqml.execution import _tracking as tracking
from hybridqml.gradients import ParameterShift, ShiftedRows
from hybridqml.hardware import _joblog as jl
from hybridqml.mitigation import Mitigation
from hybridqml.mitigation._gate_angles import gate_angles

PHI = ParameterVector("φ", 2)


def test_gate_angles_are_the_same_unitary_with_one_angle_per_gate():
    qc = QuantumCircuit(2)
    qc.ry(PHI[0] + 0.5, 0)
    qc.cx(0, 1)
    qc.rz(-PHI[0], 1)
    qc.rzz(2 * PHI[1] - PHI[0], 0, 1)
    qc.sx(0)
    qc.global_phase = PHI[1] / 2  # parameter-dependent: dropped
    form = gate_angles(qc, 2)
    assert form.n_gates == 3 and len(form.circuit.parameters) == 3
    np.testing.assert_array_equal(form.coeffs, [[1, 0], [-1, 0], [-1, 2]])
    np.testing.assert_array_equal(form.offsets, [0.5, 0, 0])
    assert [g.tolist() for g in form.gates_of] == [[0, 1, 2], [2]]
    assert form.copies.tolist() == [3, 1]
    phi = np.array([[0.3, -1.1]])
    gamma = form.angles(phi)
    np.testing.assert_allclose(gamma, [[0.8, -0.3, -2.5]])
    bound = form.circuit.assign_parameters(
        dict(zip(form.circuit.parameters, gamma[0], strict=True))
    )
    want = qc.assign_parameters(dict(zip(PHI, phi[0], strict=True)))
    assert Operator(bound).equiv(Operator(want))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda qc: qc.rz(PHI[0] * PHI[1], 0), "not linear"),
        (lambda qc: qc.u(PHI[0], 0, 0, 0), "'u' is not a one-angle Pauli rotation"),
        (lambda qc: qc.rz(Parameter("θ"), 0), "unexpected circuit parameter 'θ'"),
    ],
)
def test_gate_angles_refuse_what_the_per_gate_rule_cannot_differentiate(build, match):
    qc = QuantumCircuit(1)
    build(qc)
    with pytest.raises(CircuitError, match=match):
        gate_angles(qc, 2)


def test_shifted_rows_take_their_shift_back_off():
    plan = ParameterShift().plan(
        hq.gradients.ShiftableCircuit(hq.circuits.ry(2)), np.array([[0.1, 0.2], [0.3, 0.4]])
    )
    shifts = plan.shifts
    assert shifts is not None and len(shifts) == 8
    assert shifts.occurrence.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    np.testing.assert_allclose(shifts.amount, np.pi / 2 * np.array([1, -1] * 4))
    np.testing.assert_allclose(shifts.unshifted(plan.angles), [[0.1, 0.2]] * 4 + [[0.3, 0.4]] * 4)
    part = shifts[2:5]
    assert isinstance(part, ShiftedRows) and part.occurrence.tolist() == [1, 1, 0]


def test_a_backward_pass_runs_every_copy_and_counts_it():
    """ry(1) on fake_manila: one rz per occurrence, so 1 + 3 + 5 copies over the scales."""
    spec = hq.circuits.ry(1)
    layer = hq.QuantumLayer(spec, backend="fake_manila", mitigation="zne", shots=100, seed=1)
    # the premise of the written-out count: the unfolded ISA circuit has one angle gate
    base = layer.engine.executor.mitigation.forms[0]
    assert base.copies.tolist() == [1]
    seen = []
    tracking.observe_calls(lambda call: seen.append(call) or None)
    x = torch.tensor([[0.3], [-1.0]], requires_grad=True)
    with hq.Tracker() as tracker:
        layer(x).sum().backward()
    forward, backward = tracker.by_kind["forward"], tracker.by_kind["parameter-shift"]
    assert (forward["evaluations"], forward["executed_shots"]) == (2, 3 * 2 * 100)
    # 2 samples x (+, -) = 4 rows; each row runs 1 + 3 + 5 bindings
    assert (backward["evaluations"], backward["circuits"]) == (4, 3)
    assert backward["executed_shots"] == 4 * (1 + 3 + 5) * 100
    assert seen[-1].circuit_bindings == 4 * 9 and seen[-1].bindings == 4
    # the shared-angle rule runs each row once per scale
    shared = Mitigation(zne=True, shift_rule="shared")
    cheap = hq.QuantumLayer(spec, backend="fake_manila", mitigation=shared, shots=100, seed=1)
    with hq.Tracker() as tracker:
        cheap(x).sum().backward()
    assert tracker.by_kind["parameter-shift"]["executed_shots"] == 4 * 3 * 100
    # QPU time follows the bindings of each circuit (longer folded circuits run more often)
    assert backward["qpu_seconds"] > 2 * tracker.by_kind["parameter-shift"]["qpu_seconds"] > 0
    # and a dry run counts what the real pass sent
    with hq.Tracker() as counted, tracking.dry_run():
        layer(x).sum().backward()
    assert counted.by_kind["parameter-shift"] == backward


def test_the_job_log_counts_the_bindings_of_every_circuit(tmp_path):
    record = tracking.CallRecord("fake_manila", 3, 4, 100, circuit_bindings=36)
    with jl.JobLog(tmp_path / jl.JOBS_NAME) as log:
        log.write_call(record, "done", {})
    line = json.loads((tmp_path / jl.JOBS_NAME).read_text())
    assert (line["circuits"], line["bindings"], line["executed_shots"]) == (3, 4, 3600)
    assert tracking.CallRecord("x", 3, 4, 100).circuit_bindings == 12


@pytest.mark.parametrize("shots", [None, 2000])
def test_a_split_backward_pass_equals_one_call(shots):
    spec = hq.circuits.variational(2, 1)
    w = torch.tensor([0.4, -1.2], dtype=torch.float64)
    x = torch.tensor([[0.3, -0.8], [1.1, 0.2], [-0.4, 2.0]], dtype=torch.float64)

    def jacobian(budget_rows):
        layer = hq.QuantumLayer(
            spec, backend="fake_manila", mitigation="readout+zne", init=w, shots=shots, seed=4
        )
        ex = layer.engine.executor
        if budget_rows is not None:
            ex.binding_bytes = 1000
            ex.max_memory_bytes = 1000 * budget_rows
        theta = np.concatenate([x.numpy(), np.broadcast_to(w.numpy(), (3, 2))], axis=1)
        before = ex.calls
        jac = layer.engine.jacobian(theta)
        return jac, ex.calls - before

    whole, calls = jacobian(None)
    assert calls == 1
    split, calls = jacobian(20)  # each row costs up to 9/3 = 3 bindings per circuit
    assert calls > 2
    if shots is None:  # float sums in another order
        np.testing.assert_allclose(split, whole, rtol=0, atol=1e-14)
    else:  # the same counts drawn in the same order
        np.testing.assert_array_equal(split, whole)


def test_a_device_without_pauli_rotations_falls_back_and_says_so():
    device = GenericBackendV2(num_qubits=2, basis_gates=["cx", "u"], seed=1, noise_info=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = hq.QuantumLayer(hq.circuits.ry(1), backend=device, mitigation="zne", shots=10)
    (warning,) = [w for w in caught if "per-copy" in str(w.message)]
    assert warning.filename == __file__  # points at the caller, not inside hybridqml
    record = layer.engine.mitigation
    assert record["shift_rule"] == "shared" and record["shift_rule_exact"] is False
    assert "'u' is not a one-angle Pauli rotation" in record["shift_rule_fallback"]


def test_shift_rule_is_validated():
    with pytest.raises(ConfigurationError, match="shift_rule must be one of per-copy, shared"):
        Mitigation(zne=True, shift_rule="exact")
    assert Mitigation(zne=True).to_json()["shift_rule"] == "per-copy"
    assert Mitigation(zne=True, scale_factors=(1, 2)).gradient_cost_multiplier == 3.0
    assert Mitigation(zne=True, shift_rule="shared").gradient_cost_multiplier == 3.0
    assert Mitigation(readout=True).gradient_cost_multiplier == 1.0
