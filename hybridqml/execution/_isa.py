"""Circuits in a backend's ISA: transpiled once, their parameters bound from angle columns.

The executors over Qiskit primitives transpile their circuits to the target's instruction set
once, when they are built (:func:`transpile_for`), and bind each call's (M, K) occurrence angles
by parameter *name* (:func:`parameter_columns`, :func:`bindings`): the transpiler may rebuild
``ParameterVectorElement`` objects as plain ``Parameter`` objects, and ``circuit.parameters``
sorts names, not occurrence order.

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> shiftable = ShiftableCircuit(circuits.ry(2))
    >>> parameter_columns(shiftable.circuit, shiftable.n_angles).tolist()
    [0, 1]
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.transpiler import generate_preset_pass_manager

from hybridqml.circuits._shiftable import ANGLE_VECTOR_NAME
from hybridqml.exceptions import BackendError
from hybridqml.execution._executor import DEFAULT_TRANSPILER_SEED

__all__ = [
    "BINDING_SEED_STRIDE",
    "backend_name",
    "bindings",
    "parameter_columns",
    "set_sampler_seed",
    "transpile_for",
]

#: Aer seeds experiment ``e`` of a run with ``seed_simulator + 2113 * e``, numbering the
#: bindings of its circuits in turn (circuit ``c``, binding ``i`` of ``m``: ``e = c * m + i``).
BINDING_SEED_STRIDE: Final[int] = 2113


def backend_name(backend: Any) -> str:
    """A backend's name (``name`` attribute or method), else its type name.

    Example:
        >>> backend_name(object())
        'object'
    """
    name = getattr(backend, "name", None)
    if callable(name):
        name = name()
    return str(name or type(backend).__name__)


def transpile_for(
    circuits: list[QuantumCircuit], backend: Any, level: int, seed: int | None
) -> list[QuantumCircuit]:
    """``circuits`` in ``backend``'s ISA (as they are when ``backend`` is ``None``).

    Raises:
        BackendError: the transpiler failed (the message names the backend).
    """
    if backend is None:
        return circuits
    try:
        pm = generate_preset_pass_manager(
            optimization_level=level,
            backend=backend,
            seed_transpiler=DEFAULT_TRANSPILER_SEED if seed is None else seed,
        )
        return pm.run(circuits)
    except Exception as exc:
        raise BackendError(
            f"cannot transpile the circuit for backend {backend_name(backend)!r}: {exc}"
        ) from exc


def parameter_columns(isa: QuantumCircuit, k: int, vector: str = ANGLE_VECTOR_NAME) -> np.ndarray:
    """Column of the (M, K) angle array feeding each parameter of a transpiled circuit.

    ``vector`` names the parameter vector the columns are (the occurrence angles by default).
    """
    index = {f"{vector}[{i}]": i for i in range(k)}
    try:
        return np.asarray([index[p.name] for p in isa.parameters], dtype=int)
    except KeyError as exc:  # pragma: no cover - defensive
        raise BackendError(f"transpiled circuit has an unexpected parameter {exc}") from None


def bindings(
    isa: QuantumCircuit, cols: np.ndarray, angles: np.ndarray, shape: tuple[int, ...]
) -> BindingsArray:
    """Bindings of ``isa``'s parameters from the angle columns ``cols``."""
    if len(cols) == 0:
        return BindingsArray(shape=shape)
    values = angles[:, cols].reshape(*shape, len(cols))
    return BindingsArray({tuple(isa.parameters): values}, shape=shape)


def set_sampler_seed(sampler: BaseSamplerV2, seed: int) -> None:
    """Give simulator-backed samplers a fresh seed for this call (no-op for hardware)."""
    options = getattr(sampler, "options", None)
    if options is None:
        return
    if isinstance(getattr(options, "run_options", None), dict):  # qiskit-aer SamplerV2
        options.run_options["seed_simulator"] = seed
    elif hasattr(options, "seed_simulator"):  # qiskit BackendSamplerV2, distribution samplers
        options.seed_simulator = seed
    elif hasattr(getattr(options, "simulator", None), "seed_simulator"):  # qiskit-ibm-runtime
        options.simulator.seed_simulator = seed
