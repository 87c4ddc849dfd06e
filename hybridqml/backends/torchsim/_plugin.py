"""The torch simulator's registry entries, declared as the ``torch`` entry point of hybridqml.

``"torch"`` is the exact statevector engine; ``"torch"`` with a ``device`` (a fake device) or a
``noise_model`` in ``backend_options`` is the noisy engine (batched density matrices, exact noisy
values or shots, gradients by backprop through the channels or by parameter shift).

Example:
    >>> [(e.name, e.capabilities.native_gradients) for e in ENTRY]
    [('torch', ('backprop', 'adjoint')), ("'torch' with noise", ('backprop',))]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import ConfigurationError
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


def _build_noisy(backend: str, request: BackendRequest) -> Executor:
    from hybridqml.backends.torchsim._noisy_executor import build_noisy

    return build_noisy(backend, request)


def _build_noisy_native(
    spec: ParameterizedCircuit,
    gradient: str,
    shots: int | None,
    options: Mapping[str, Any],
    mitigation: Any = None,
) -> NativeExecutor:
    from hybridqml.backends.torchsim._noisy_executor import (
        NoisyTorchExecutor,
        check_noisy_options,
    )

    if shots is not None:
        raise ConfigurationError(
            f"shots={shots} with gradient='backprop': sampled outcomes have no autograd "
            "gradient; use gradient='parameter-shift' for noisy shots on the torch engine, or "
            "shots=None for exact noisy values with backprop"
        )
    return NoisyTorchExecutor(spec, check_noisy_options(shots, options), mitigation=mitigation)


def _noisy(spec: Any, options: Mapping[str, Any]) -> bool:
    from hybridqml.backends.torchsim._noisy_executor import is_noisy

    return spec == "torch" and is_noisy(options)


NOISY_CAPABILITIES: Final = Capabilities(
    exact=True,
    shots=True,
    noise=True,
    native_gradients=("backprop",),
    option_family="torch",
    native_mitigation=True,
)
"""Exact noisy values, shots from the exact noisy law, backprop through the channels (readout
mitigation and linear zero-noise extrapolation included)."""

ENTRY: Final[tuple[BackendEntry, ...]] = (
    BackendEntry(
        name="torch",
        build=_build,
        matches=lambda spec, options: spec == "torch" and not _noisy(spec, options),
        capabilities=Capabilities(
            exact=True,
            shots=False,
            native_gradients=("backprop", "adjoint"),
            option_family="torch",
        ),
        help="exact statevector in torch (CPU or CUDA); gradients backprop, adjoint or shift",
        build_native=_build_native,
    ),
    BackendEntry(
        name="'torch' with noise",
        build=_build_noisy,
        matches=_noisy,
        capabilities=NOISY_CAPABILITIES,
        help="torch with backend_options device='fake_<device>' or a noise_model: exact noisy "
        "density matrices in torch (CPU or CUDA), shots=N, gradients backprop or shift",
        build_native=_build_noisy_native,
        by_name=False,
    ),
)
"""The entries of the ``torch`` family: the exact statevector engine, and the noisy one when
``backend_options`` name a fake device or a noise model (torch is imported when one is built)."""
