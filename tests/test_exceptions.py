"""The exception tree is typed by cause (hybridqml.exceptions' docstring draws it)."""

from __future__ import annotations

import inspect

import pytest

from hybridqml import exceptions

CONFIGURATION = {"ConfigurationError", "CircuitError", "InputError", "GradientError"}
RUNTIME = {
    "BackendError",
    "JobFailedError",
    "BudgetExceededError",
    "DivergenceError",
    "DistributedError",
    "EntropyError",
    "QRNGError",
    "QRNGAuthError",
    "QRNGUnavailableError",
    "QRNGProtocolError",
    "HealthTestError",
}


def _classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in vars(exceptions).items()
        if inspect.isclass(cls) and issubclass(cls, exceptions.HybridQMLError)
    }


def test_every_error_has_exactly_one_cause() -> None:
    classes = _classes()
    assert set(exceptions.__all__) == set(classes)
    for name, cls in classes.items():
        causes = [base for base in (ValueError, ImportError, RuntimeError) if issubclass(cls, base)]
        expected = (
            [ValueError]
            if name in CONFIGURATION
            else [ImportError]
            if name == "MissingDependencyError"
            else [RuntimeError]
            if name in RUNTIME
            else []
        )
        assert causes == expected, name


def test_a_missing_dependency_is_not_a_backend_failure() -> None:
    err = exceptions.MissingDependencyError("needs it", package="qiskit-ibm-runtime")
    assert isinstance(err, ImportError)
    assert not isinstance(err, exceptions.BackendError)
    assert err.package == "qiskit-ibm-runtime"


@pytest.mark.parametrize("name", sorted(_classes()))
def test_the_docstring_tree_names_every_error(name: str) -> None:
    assert f" {name}" in exceptions.__doc__
