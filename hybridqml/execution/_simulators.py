"""Local Aer simulators shared by the backend families built on them: options and memory.

Both the noiseless Aer family (:mod:`hybridqml.backends.aer`) and the noisy simulator
(:mod:`hybridqml.backends.mixed`) run ``qiskit_aer.AerSimulator`` objects; what they share sits
here, duck-typed on ``sim.options`` (this module imports no simulator):

* :func:`configure` -- an Aer constructor or ``set_options`` called with ``backend_options``,
  Aer's errors turned into :class:`~hybridqml.exceptions.ConfigurationError`;
* :func:`check_state_memory` -- refuse a circuit whose state cannot fit (Aer would otherwise
  fail per experiment, surfacing as a missing result key);
* :func:`sampled_binding_bytes` and the constants behind it -- the peak memory one binding costs
  in a call of Aer's own sampler, so that large passes are split under the memory budget
  (``hybridqml.execution._memory``).

Example:
    >>> from qiskit_aer import AerSimulator
    >>> state_bytes(AerSimulator(method="statevector"), 10)   # 2**10 complex128
    16384
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

from hybridqml.exceptions import BackendError, ConfigurationError, MissingDependencyError
from hybridqml.execution._memory import (
    LARGE_STATE_BYTES,
    MEMORY_OPTION,
    human_bytes,
    local_ranks,
    rank_memory_share,
)

__all__ = [
    "AER_EXACT_OPTIONS",
    "AER_RESULT_BYTES",
    "AER_SHOT_BYTES",
    "AER_TERM_BYTES",
    "check_state_memory",
    "configure",
    "is_aer_simulator",
    "qiskit_aer",
    "sampled_binding_bytes",
    "state_bytes",
]

AER_EXACT_OPTIONS: Final[Mapping[str, Any]] = {
    "method": "statevector",
    "runtime_parameter_bind_enable": True,
}
"""Aer options for statevector runs: binding parameters inside Aer is ~2x faster."""

#: Aer's bytes per binding besides the state (result objects, metadata), measured with Aer 0.18
#: at 4 to 16 qubits: about 16 KiB, plus about 0.5 KiB per measured Pauli term.
AER_RESULT_BYTES: Final[int] = 16 << 10
AER_TERM_BYTES: Final[int] = 512
#: Bytes Aer's sampler keeps per shot and measurement group (one stored outcome each).
AER_SHOT_BYTES: Final[int] = 64
#: State dimension of each simulation method, as a power of 2**n (methods not listed hold far
#: less than a statevector: matrix-product states, stabilizers).
_STATE_POWER = {"automatic": 1, "statevector": 1, "density_matrix": 2, "unitary": 2, "superop": 4}


def qiskit_aer() -> Any:
    """The ``qiskit_aer`` module, imported when a backend first needs it.

    Raises:
        MissingDependencyError: qiskit-aer is not installed (the message has the pip command).
    """
    try:
        import qiskit_aer
    except ImportError as exc:
        raise MissingDependencyError(
            "the Aer backends need qiskit-aer: pip install qiskit-aer", package="qiskit-aer"
        ) from exc
    return qiskit_aer


def is_aer_simulator(obj: Any) -> bool:
    """Whether ``obj`` is an ``AerSimulator``.

    Imports nothing: without qiskit-aer loaded no object can be one, so a broken Aer install
    cannot get in the way of other backends' specs.
    """
    module = sys.modules.get("qiskit_aer")
    return module is not None and isinstance(obj, module.AerSimulator)


def configure(make: Callable[..., Any], options: Mapping[str, Any], *args: Any) -> Any:
    """Call an Aer constructor (or ``set_options``) with ``backend_options``.

    Raises:
        ConfigurationError: Aer rejected an option (the message names Aer's documented ones).
    """
    try:
        return make(*args, **options)
    except Exception as exc:
        raise ConfigurationError(
            f"invalid backend_options for Aer: {exc}; see AerSimulator's documented options "
            "(e.g. method, device, max_parallel_threads)"
        ) from exc


def state_bytes(sim: Any, n_qubits: int) -> int:
    """Bytes of one ``n_qubits`` state of ``sim``'s method and precision (0 when not dense)."""
    power = _STATE_POWER.get(getattr(sim.options, "method", None) or "automatic", 0)
    itemsize = 8 if getattr(sim.options, "precision", "double") == "single" else 16
    return itemsize << (power * n_qubits) if power else 0


def check_state_memory(sim: Any, n_qubits: int, name: str, *, budget: int | None = None) -> None:
    """Refuse a circuit whose state does not fit, or is too large to finish, before building it.

    The memory limit is the smaller of Aer's ``max_memory_mb`` (when set > 0; Aer's own default
    is the machine's memory) and this rank's share of the host memory available now (CPU
    simulation only; :func:`~hybridqml.execution._memory.rank_memory_share`). A state above
    :data:`~hybridqml.execution._memory.LARGE_STATE_BYTES` is refused unless ``budget`` (the
    explicit ``max_memory_bytes`` backend option) holds it.

    Raises:
        BackendError: naming the qubits, the bytes one state needs and the limit (or the
            option that accepts a large register).
    """
    need = state_bytes(sim, n_qubits)
    if need == 0:
        return
    method = getattr(sim.options, "method", None) or "automatic"
    if need > LARGE_STATE_BYTES and (budget is None or budget < need):
        raise BackendError(
            f"backend {name!r} refuses {n_qubits} qubits: one {method} state needs {need:,} "
            f"bytes ({human_bytes(need)}, over {human_bytes(LARGE_STATE_BYTES)}), minutes per "
            "circuit and most of a machine's memory, so training on it would not finish. Use "
            "fewer qubits or backend_options={'method': 'matrix_product_state'}; to run it "
            f"anyway, accept its size with backend_options={{{MEMORY_OPTION!r}: {need}}} or more"
        )
    limits = []
    aer_mb = getattr(sim.options, "max_memory_mb", None)
    if aer_mb is not None and aer_mb > 0:
        limits.append((aer_mb << 20, "Aer's max_memory_mb"))
    if str(getattr(sim.options, "device", "CPU")).upper() == "CPU":
        free = rank_memory_share()
        if free is not None:
            ranks = local_ranks()
            what = f"this rank's share (1/{ranks}) of the memory" if ranks > 1 else "the memory"
            limits.append((free, f"{what} available"))
    if not limits:
        return
    limit, what = min(limits)
    if need > limit:
        raise BackendError(
            f"backend {name!r} cannot simulate {n_qubits} qubits: one {method} state needs "
            f"{need:,} bytes ({human_bytes(need)}) but the limit is {limit:,} bytes "
            f"({human_bytes(limit)}, {what}); use fewer qubits or "
            "backend_options={'method': 'matrix_product_state'}"
        )


def sampled_binding_bytes(sim: Any, n_qubits: int, groups: int, shots: int) -> int:
    """Peak bytes one binding costs in a call of Aer's own sampler.

    Aer with runtime parameter binding keeps the state of every binding of a call, its result
    objects (:data:`AER_RESULT_BYTES`) and every shot of every measurement group.
    """
    return state_bytes(sim, n_qubits) + AER_RESULT_BYTES + AER_SHOT_BYTES * groups * shots
