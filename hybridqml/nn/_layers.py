"""``torch.nn`` layers built on quantum circuits.

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.QuantumLayer(hq.circuits.variational(n_qubits=2, layers=1))
    >>> layer(torch.rand(5, 2)).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import InputError
from hybridqml.execution._executor import DEFAULT_OPTIMIZATION_LEVEL
from hybridqml.gradients import GradientRule
from hybridqml.nn._engine import CircuitEngine, EngineOptions
from hybridqml.nn._function import expectations
from hybridqml.nn._weights import WeightInit, initial_weight

__all__ = ["QuantumLayer"]


class QuantumLayer(nn.Module):
    """A parameterized quantum circuit as an ``nn.Module``.

    Maps inputs of shape (B, n_inputs) or (n_inputs,) to expectation values of shape
    (B, n_outputs) or (n_outputs,) (or to probabilities, when the spec's outputs are
    :class:`~hybridqml.circuits.Probabilities`; see :class:`~hybridqml.SamplerLayer`).
    The output follows the input's floating dtype and device. The trainable angles live in one
    ``nn.Parameter`` named ``weight`` (``init``; default uniform in [-pi, pi) from torch's
    global generator, seeded with ``torch.manual_seed``). A circuit without weights registers
    no parameter: ``layer.weight`` is ``None`` and ``state_dict()`` is empty.

    Default outputs: one ``<Z>`` per qubit, unlike qiskit-machine-learning's ``EstimatorQNN``,
    whose default is a single ``<Z...Z>`` (see docs/guides/porting.md).

    A forward pass is one primitive call for the whole batch; a backward pass is one more,
    holding every shifted binding of every sample. Input gradients are only computed when the
    inputs require them.

    With ``backend="torch"`` the circuit is compiled once into batched torch operations
    (:mod:`hybridqml.backends.torchsim`): exact, no Qiskit at run time, on the input's device, and
    differentiated by torch autograd (``gradient="backprop"``, the default there), by an adjoint
    reverse pass (``"adjoint"``, memory-light) or by the parameter-shift rule.

    Args:
        circuit: The circuit specification.
        backend: ``"aer"`` (exact, or sampled with ``shots``), ``"torch"`` (exact, torch-native),
            ``"fake_<device>"``,
            ``"ibm:<name>"``, a ``BackendV2``, a qiskit-ibm-runtime ``Session``/``Batch``, or a
            ``BaseEstimatorV2``/``BaseSamplerV2`` instance, or a plugin's name. See
            :func:`hybridqml.execution.make_executor`.
        shots: Shots per evaluation; ``None`` is exact on ``"aer"`` and exact noisy on fake devices
            and noisy Aer (real devices default to 1024).
        seed: Makes shot sampling (and SPSA) reproducible. Layers alive at the same time with
            the same seed draw independent streams derived from it (construction order), see
            ``hybridqml.nn._shot_seeds``.
        gradient: ``"parameter-shift"`` (exact), ``"finite-diff"``, ``"spsa"`` or a
            :class:`~hybridqml.gradients.GradientRule`; with ``backend="torch"`` also
            ``"backprop"`` and ``"adjoint"``. Default (``None``): ``"backprop"`` on ``"torch"``,
            ``"parameter-shift"`` elsewhere.
        backend_options: Extra ``AerSimulator`` options, e.g. ``{"device": "GPU"}``
            (``{"max_memory_bytes": n}`` for ``"torch"``).
        optimization_level: Transpiler preset level used for the backend's ISA.
        mitigation: Error mitigation of every evaluation (forward and every shifted one):
            ``None`` (default), ``"readout"``, ``"zne"``, ``"readout+zne"`` or a
            :class:`hybridqml.mitigation.Mitigation` (scale factors, extrapolator,
            calibration, simplex projection, shift rule). Both are linear, so parameter-shift
            gradients of the mitigated values are exact: ZNE's folded circuits repeat each
            rotation (``G G^dagger G``), and every copy is shifted on its own (a backward pass
            runs about ``sum(scale_factors)`` times the circuit bindings; the run record says
            ``"shift_rule_exact"``); ``backend="torch"`` with a ``device`` or ``noise_model``
            and ``gradient="backprop"`` (its default) differentiates the mitigated values
            exactly inside its graph. On IBM Runtime, expectation values use the runtime
            Estimator's own TREX/ZNE (its ZNE gradients share the angle: approximate); on
            noiseless simulators it is an error. Not carried over by :meth:`set_backend`.
        init: Initial weights: a tensor or array of shape ``(n_weights,)`` (a tensor's floating
            dtype is kept, arrays become float64), or an initializer called on an empty
            ``(n_weights,)`` tensor such as ``torch.nn.init.uniform_`` (see
            :func:`hybridqml.nn._weights.initial_weight`).

    Raises:
        CircuitError: ``circuit`` is not a valid spec.
        ConfigurationError: unknown backend, invalid ``shots``, ``seed`` or ``gradient`` (shots
            or an unknown gradient with ``backend="torch"``, ``"backprop"``/``"adjoint"``
            elsewhere), or a bad ``init``.
        MissingDependencyError: the backend needs an optional package that is not installed.

    Example:
        >>> import torch, hybridqml as hq
        >>> noisy = hq.QuantumLayer(hq.circuits.ry(1), backend="fake_manila", mitigation="readout")
        >>> abs(noisy(torch.zeros(1)).item()) < 0.001   # <Z> of |+> is 0; readout error removed
        True
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Linear(3, 2), hq.QuantumLayer(hq.circuits.variational(2, 1)),
        ...     torch.nn.Linear(2, 1))
        >>> model(torch.rand(4, 3)).sum().backward()
        >>> fast = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="torch")
        >>> fast(torch.rand(4, 2, dtype=torch.float64)).dtype
        torch.float64
    """

    def __init__(
        self,
        circuit: ParameterizedCircuit,
        *,
        backend: Any = "aer",
        shots: int | None = None,
        seed: int | None = None,
        gradient: str | GradientRule | None = None,
        backend_options: Mapping[str, Any] | None = None,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        mitigation: Any = None,
        init: WeightInit = None,
    ) -> None:
        super().__init__()
        options = EngineOptions(
            backend=backend,
            shots=shots,
            seed=seed,
            gradient=gradient,
            backend_options=backend_options,
            optimization_level=optimization_level,
            mitigation=mitigation,
        )
        self.engine = CircuitEngine(circuit, options)
        self.spec = circuit
        if circuit.n_weights:
            self.weight = nn.Parameter(initial_weight(init, circuit.n_weights))
        else:
            if init is not None:
                initial_weight(init, 0)  # a non-empty tensor for a weightless circuit is a mistake
            self.register_parameter("weight", None)
        self._no_weight: torch.Tensor
        self.register_buffer("_no_weight", torch.zeros(0), persistent=False)

    @property
    def n_inputs(self) -> int:
        """Width of the input."""
        return self.spec.n_inputs

    @property
    def n_outputs(self) -> int:
        """Number of outputs (observables)."""
        return self.spec.n_outputs

    def set_backend(self, backend: Any, **options: Any) -> None:
        """Run on another backend from now on (e.g. train exact, evaluate on a fake device).

        Args:
            backend: A backend spec as in the constructor, e.g. ``"torch"`` or ``"aer"``.
            **options: ``shots``, ``seed``, ``backend_options``, ``optimization_level`` or
                ``gradient``. Unless given, ``shots`` and ``gradient`` take the new backend's
                defaults (exact on simulators, 1024 shots on devices; its native gradient, else
                parameter shift); ``seed`` and ``optimization_level`` are kept, and
                ``backend_options`` too between Qiskit backends (not to or from ``"torch"``).

        Example:
            >>> import hybridqml as hq
            >>> layer = hq.QuantumLayer(hq.circuits.ry(1), backend="torch", gradient="adjoint")
            >>> layer.set_backend("aer", shots=1024)     # "adjoint" is not carried over
            >>> layer.engine.shots, layer.engine.gradient
            (1024, 'parameter-shift')
            >>> layer.set_backend("aer")                 # nor are the shots
            >>> layer.engine.shots
            >>> layer.set_backend("torch")
            >>> layer.engine.gradient
            'backprop'
        """
        self.engine.set_backend(backend, **options)

    def random_state(self) -> dict[str, Any]:
        """State of the generators behind shot seeds and SPSA directions (empty when exact).

        :class:`hybridqml.training.Checkpointer` saves it with every checkpoint, so a resumed
        training run draws exactly the shot noise an uninterrupted run would have drawn. It is
        not part of ``state_dict``, which holds only ``weight``.

        Example:
            >>> import hybridqml as hq
            >>> layer = hq.QuantumLayer(hq.circuits.ry(1), shots=100, seed=1)
            >>> layer.set_random_state(layer.random_state())
            >>> hq.QuantumLayer(hq.circuits.ry(1)).random_state()
            {}
        """
        return self.engine.random_state()

    def set_random_state(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`random_state` snapshot (entries for another backend are ignored)."""
        self.engine.set_random_state(state)

    def forward(
        self, inputs: torch.Tensor | None = None, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Expectation values for each row of ``inputs``.

        Args:
            inputs: (B, n_inputs) or (n_inputs,). A circuit without inputs takes ``(B, 0)``
                (B output rows) or nothing: ``layer()`` is ``layer(torch.zeros(0))``, one
                output row of shape (n_outputs,) in the weight's dtype and on its device,
                as qiskit-machine-learning's ``TorchConnector`` does for a qGAN generator.
            weight: Optional weights used instead of :attr:`weight`: (n_weights,) shared by the
                batch or (B, n_weights) per sample (e.g. produced by a hypernetwork).

        Raises:
            InputError: non-tensor or non-floating input, wrong width or rank, empty batch,
                NaN/inf values (in the inputs or the weights), badly shaped ``weight``, or no
                inputs for a circuit that has input parameters.

        Example:
            >>> import torch, hybridqml as hq
            >>> from qiskit.circuit.library import real_amplitudes
            >>> generator = hq.SamplerLayer(
            ...     hq.circuits.from_qiskit(real_amplitudes(2, reps=1), inputs=[]))
            >>> generator().shape, generator(torch.zeros(3, 0)).shape
            (torch.Size([4]), torch.Size([3, 4]))
        """
        if inputs is None:
            inputs = self._no_inputs(weight)
        x = self._validate(inputs)
        x2 = x if x.ndim == 2 else x.unsqueeze(0)
        if weight is not None:
            w = self._validate_weight(weight, x2.shape[0])
        else:
            w = self.weight if self.weight is not None else self._no_weight.to(x.dtype)
        out = expectations(x2, w, self.engine)
        return out if x.ndim == 2 else out.squeeze(0)

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # checkpoints from before weightless layers stopped registering an empty ``weight``
        key = prefix + "weight"
        if self.weight is None and key in state_dict and state_dict[key].numel() == 0:
            state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _no_inputs(self, weight: Any) -> torch.Tensor:
        """The (0,) input of a call without arguments, following the weight's dtype/device."""
        if self.n_inputs:
            raise InputError(
                f"this layer takes inputs of shape (batch, {self.n_inputs}); only a circuit "
                "without input parameters can be called without them"
            )
        like = weight if isinstance(weight, torch.Tensor) else self.weight
        if like is None or not like.is_floating_point():
            like = self._no_weight.to(torch.get_default_dtype())
        return like.new_zeros(0)

    def _validate_weight(self, weight: Any, batch: int) -> torch.Tensor:
        n = self.spec.n_weights
        if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
            raise InputError("weight must be a floating-point torch.Tensor")
        if weight.shape not in ((n,), (batch, n)):
            raise InputError(
                f"weight must have shape ({n},) or ({batch}, {n}), got {tuple(weight.shape)}"
            )
        return weight  # finiteness is checked with the inputs (hybridqml.nn._function.check_finite)

    def _validate(self, inputs: Any) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor):
            raise InputError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if not inputs.is_floating_point():
            raise InputError(
                f"inputs must be a floating-point tensor, got {inputs.dtype}; "
                "convert with inputs.float() or inputs.double()"
            )
        if inputs.ndim not in (1, 2) or inputs.shape[-1] != self.n_inputs:
            raise InputError(
                f"inputs must have shape (batch, {self.n_inputs}) or ({self.n_inputs},), "
                f"got {tuple(inputs.shape)}"
            )
        if inputs.ndim == 2 and inputs.shape[0] == 0:
            raise InputError("empty batch: inputs has 0 rows")
        return inputs

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return (
            f"n_qubits={self.spec.n_qubits}, n_inputs={self.n_inputs}, "
            f"n_weights={self.spec.n_weights}, n_outputs={self.n_outputs}, "
            f"backend={self.engine.backend_name!r}, shots={self.engine.shots}, "
            f"gradient={self.engine.gradient!r}"
        )
