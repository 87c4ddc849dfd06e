import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

from hybridqml.backends.aer._estimator import AerExactEstimator
from hybridqml.exceptions import ConfigurationError


def circuit():
    x, y = Parameter("x"), Parameter("y")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.rx(y, 1)
    qc.cx(0, 1)
    return qc


OBS = [SparsePauliOp(["ZI", "IX"], [0.5, -1.5]), SparsePauliOp("YY"), SparsePauliOp(["II", "XZ"])]


@pytest.mark.parametrize(
    ("values_shape", "observables"),
    [((5, 1, 2), OBS), ((4, 2), "ZZ"), ((3, 2), [["ZI"], ["IZ"], ["XX"]]), ((2,), OBS)],
)
def test_matches_aer_estimator_with_broadcasting(values_shape, observables):
    qc = circuit()
    values = np.random.default_rng(0).uniform(-3, 3, values_shape)
    ours = AerExactEstimator(AerSimulator(method="statevector")).run([(qc, observables, values)])
    ref = AerEstimatorV2().run([(qc, observables, values)])
    a, b = ours.result()[0].data.evs, ref.result()[0].data.evs
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_circuit_without_parameters_and_several_pubs():
    qc = QuantumCircuit(1)
    qc.h(0)
    job = AerExactEstimator(AerSimulator()).run([(qc, "X"), (qc, ["X", "Z"])])
    assert job.done() and job.in_final_state()
    result = job.result()
    np.testing.assert_allclose(result[0].data.evs, 1.0, atol=1e-12)
    np.testing.assert_allclose(result[1].data.evs, [1.0, 0.0], atol=1e-12)


def test_prepared_circuit_is_reused_and_not_confused_between_circuits():
    est = AerExactEstimator(AerSimulator())
    a, b = circuit(), circuit()
    b.x(0)
    values = np.array([[0.3, 0.4]])
    first = est.run([(a, "IZ", values)]).result()[0].data.evs
    est.run([(a, "IZ", values)])
    assert len(est._prepared) == 1
    other = est.run([(b, "IZ", values)]).result()[0].data.evs
    assert len(est._prepared) == 2
    np.testing.assert_allclose(other, -first, atol=1e-12)  # X flips <Z_0>


def test_precision_is_rejected():
    est = AerExactEstimator(AerSimulator())
    with pytest.raises(ConfigurationError, match="exact"):
        est.run([(circuit(), "ZZ", [0.1, 0.2])], precision=0.01)
    with pytest.raises(ConfigurationError, match="exact"):
        est.run([(circuit(), "ZZ", [0.1, 0.2], 0.01)])


def test_expectation_values_is_run_without_the_containers():
    from qiskit.primitives.containers.observables_array import ObservablesArray

    qc = circuit()
    est = AerExactEstimator(AerSimulator(method="statevector"))
    values = np.random.default_rng(1).uniform(-3, 3, (6, 2))
    observables = ObservablesArray.coerce(OBS)
    lean = est.expectation_values(qc, observables, values)
    via_run = est.run([(qc, observables, values[:, None, :])]).result()[0].data.evs
    assert lean.shape == (6, 3)
    np.testing.assert_allclose(lean, via_run, atol=1e-12)
    # the coefficient cache is keyed by the observables object, never confused between two
    other = ObservablesArray.coerce([SparsePauliOp("ZZ")])
    np.testing.assert_allclose(
        est.expectation_values(qc, other, values)[:, 0],
        est.run([(qc, "ZZ", values)]).result()[0].data.evs,
        atol=1e-12,
    )
