"""The torch simulator's registry entry, declared as the ``torch`` entry point of hybridqml.

Example:
    >>> ENTRY.name, ENTRY.capabilities.native_gradients
    ('torch', ('backprop', 'adjoint'))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.execution._capabilities import Capabilities
from hybridqml.execution._executor import BackendRequest, Executor, NativeExecutor
from hybridqml.execution._registry import BackendEntry

__all__ = ["ENTRY"]


def _build(backend: str, request: BackendRequest) -> Executor:
    from hybridqml.backends.torchsim._executor import TorchExecutor, check_torch_options

    options = check_torch_options(request.shots, request.options)
    return TorchExecutor(request.shiftable, max_memory_bytes=request.max_memory_bytes, **options)


def _build_native(
    spec: ParameterizedCircuit, gradient: str, shots: int | None, options: Mapping[str, Any]
) -> NativeExecutor:
    from hybridqml.backends.torchsim._executor import TorchNativeExecutor, check_torch_options

    return TorchNativeExecutor(spec, gradient=gradient, **check_torch_options(shots, options))


ENTRY: Final = BackendEntry(
    name="torch",
    build=_build,
    capabilities=Capabilities(
        exact=True, shots=False, native_gradients=("backprop", "adjoint"), option_family="torch"
    ),
    help="exact statevector in torch (CPU or CUDA); gradients backprop, adjoint or shift",
    build_native=_build_native,
)
"""The ``"torch"`` backend (torch is imported when it is first built)."""
