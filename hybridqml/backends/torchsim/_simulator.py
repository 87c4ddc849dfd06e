"""The batched torch statevector simulator: run a compiled program, measure Pauli sums.

States are (B, 2^n) complex tensors in Qiskit's little-endian order (basis index
``sum_q bit_q 2^q``); reshaped to (B, 2, ..., 2) the axis of qubit ``q`` is ``n - q``. Every
operation is a batched torch call on the whole batch: one-qubit runs are one broadcast ``matmul``
on a (B, 2^(n-1-q), 2, 2^q) view, monomial blocks one gather (and one multiply when they carry
phases), general k-qubit gates one ``matmul`` after moving their axes last. Nothing runs Qiskit
at run time. Dtypes follow the parameters: float32 -> complex64, float64 -> complex128; devices
follow the parameters too (constants are cached per device and dtype).

Example:
    >>> import torch
    >>> from hybridqml import circuits
    >>> spec = circuits.ry(1)
    >>> sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
    >>> x = torch.tensor([[torch.pi / 2]], dtype=torch.float64)
    >>> sim.expectations(x).round(decimals=12).tolist()  # -sin x
    [[-1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

from hybridqml.backends.torchsim._compiler import Op, Program, compile_circuit
from hybridqml.backends.torchsim._fusion import Step, plan_steps, run_steps, step_matrix
from hybridqml.backends.torchsim._gates import build_matrix
from hybridqml.backends.torchsim._kernels import apply_general, apply_one, permute
from hybridqml.backends.torchsim._observables import PauliTable
from hybridqml.exceptions import BackendError, InputError
from hybridqml.execution._memory import check_memory_limit, human_bytes, rank_memory_share

__all__ = [
    "MAX_QUBITS",
    "TorchSimulator",
    "apply_general",
    "apply_one",
    "available_memory",
    "complex_dtype",
]

#: Hard limit: basis indices must fit in int64 and 2^n amplitudes in memory.
MAX_QUBITS = 40
#: Working sets below this size are not checked against the free memory of the device.
_UNCHECKED_BYTES = 64 << 20
#: Working-set multiple of one batch of states: the no-grad sweeps' state and two buffers, the
#: adjoint sweep's saved state, (psi, lambda) pair and spare pair, temporaries (the observables
#: need at most three states while one group of terms is summed, see ``_observables``).
_WORKING_STATES = 7


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype matching a real floating dtype (float64 -> complex128, else complex64).

    Example:
        >>> complex_dtype(torch.float64)
        torch.complex128
    """
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def available_memory(device: torch.device) -> int | None:
    """Bytes available for new tensors on ``device`` (``None`` if it cannot be determined).

    Example:
        >>> free = available_memory(torch.device("cpu"))
        >>> free is None or free > 0
        True
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return rank_memory_share()  # the ranks on this machine share its memory


class TorchSimulator:
    """A circuit compiled for batched exact simulation in torch.

    Args:
        circuit: A unitary Qiskit circuit.
        parameters: Columns of the (B, P) parameter matrix, in order.
        observables: Pauli-sum observables (``SparsePauliOp``); output ``i`` is ``<obs_i>``.
        max_memory_bytes: Refuse batches whose estimated working set (states and the
            observable table) exceeds this; default: the memory available on the device.

    Raises:
        BackendError: if even one sample and the observable table would not fit in memory,
            checked before allocating anything (the message names the bytes and the limit).
        ConfigurationError: ``max_memory_bytes`` is not a positive int.
        CircuitError: for circuits that cannot be simulated (see
            :func:`~hybridqml.backends.torchsim._compiler.compile_circuit`).

    Example:
        >>> from qiskit import QuantumCircuit
        >>> from qiskit.circuit import Parameter
        >>> from qiskit.quantum_info import SparsePauliOp
        >>> t = Parameter("t")
        >>> qc = QuantumCircuit(2)
        >>> _ = qc.ry(t, 0)
        >>> _ = qc.cx(0, 1)
        >>> sim = TorchSimulator(qc, [t], [SparsePauliOp("ZZ"), SparsePauliOp("IZ")])
        >>> theta = torch.tensor([[0.0], [torch.pi]], dtype=torch.float64, requires_grad=True)
        >>> sim.expectations(theta).detach().round(decimals=12).tolist()
        [[1.0, 1.0], [1.0, -1.0]]
    """

    def __init__(
        self,
        circuit: QuantumCircuit,
        parameters: Sequence[Parameter],
        observables: Sequence[SparsePauliOp],
        *,
        max_memory_bytes: int | None = None,
    ) -> None:
        self.n_qubits = circuit.num_qubits
        self.max_memory_bytes = check_memory_limit(max_memory_bytes)
        self._table_bytes = 0
        self.check_memory(1, torch.complex128, torch.device("cpu"))  # before the table: too big?
        self._table_bytes = PauliTable.estimate_bytes(observables, self.n_qubits)
        self.check_memory(1, torch.complex128, torch.device("cpu"))
        self.program: Program = compile_circuit(circuit, parameters)
        self.table = PauliTable(observables, self.n_qubits)
        self.n_params = len(parameters)
        self.n_outputs = len(observables)
        self._plan()

    # -- compile-time layout ---------------------------------------------------------------------

    @property
    def all_ops(self) -> list[Op]:
        """The product-state runs followed by the scheduled ops (application order)."""
        return self._all_ops

    def _plan(self) -> None:
        """Index every gate matrix: constants, trig groups per dimension, built gates."""
        slots = self.program.slots
        self._all_ops = self.program.initial + self.program.ops
        self._columns = [s.column for s in slots]
        self._consts: list[np.ndarray] = []
        trig: dict[int, list] = {}
        self._built: list[tuple[str, tuple[int, ...]]] = []
        self._factor_plan: list[list[tuple]] = []
        for op in self.all_ops:
            plan: list[tuple] = []
            for ref in op.factors:
                if ref.kind == "const":
                    assert ref.matrix is not None  # a constant reference has its matrix
                    plan.append(("const", len(self._consts)))
                    self._consts.append(ref.matrix)
                elif ref.kind == "trig":
                    group = trig.setdefault(ref.dim, [])
                    plan.append(("trig", ref.dim, len(group)))
                    group.append(ref)
                else:
                    plan.append(("built", len(self._built)))
                    self._built.append((ref.name, ref.slots))
            self._factor_plan.append(plan)
        self._trig = {
            d: (
                np.array([r.slots[0] for r in refs]),
                np.array([r.trig.omega for r in refs]),
                np.stack([r.trig.a for r in refs]),
                np.stack([r.trig.bc for r in refs]),
                np.stack([r.trig.bs for r in refs]),
            )
            for d, refs in trig.items()
        }
        n = self.n_qubits
        initial = plan_steps(self.program.initial, n)
        self._steps = plan_steps(self.program.ops, n, first=len(self.program.initial))
        self._all_steps = initial + self._steps
        self._depends = [
            frozenset(c for ref in op.factors for s in ref.slots for c in slots[s].columns)
            for op in self.all_ops
        ]
        self._cache: dict[tuple, dict] = {}

    @property
    def steps(self) -> list[Step]:
        """Every pass over the state in application order, the product-state runs' first."""
        return self._all_steps

    def step_depends(self, step: Step) -> frozenset[int]:
        """Parameter columns the matrix of ``step`` depends on."""
        return frozenset().union(*(self._depends[i] for i in step.ops))

    def monomial(self, index: int, dtype: torch.dtype, device: torch.device) -> tuple:
        """(perm, phase, inverse perm, inverse phase) of monomial op ``index``."""
        return self._constants(dtype, device)["monomial"][index]

    def _constants(self, dtype: torch.dtype, device: torch.device) -> dict:
        key = (dtype, device)
        if key in self._cache:
            return self._cache[key]
        real = torch.empty(0, dtype=dtype).real.dtype

        def c(a: Any, dt: torch.dtype = dtype) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), device=device).to(dt)

        columns = [j for j in self._columns if j is not None]
        consts = {
            "const": [c(m) for m in self._consts],
            "trig": {
                d: (c(idx, torch.long), c(om, real), c(a), c(bc), c(bs))
                for d, (idx, om, a, bc, bs) in self._trig.items()
            },
            "all_columns": len(columns) == len(self._columns),
            "columns": c(columns, torch.long),
            "zero": c([1.0, 0.0]),
        }
        if not consts["all_columns"]:
            others = [k for k, j in enumerate(self._columns) if j is None]
            plain = [k for k, j in enumerate(self._columns) if j is not None]
            consts["others"] = others
            consts["order"] = c(np.argsort(np.array(plain + others)), torch.long)
        mono = {}
        for i, op in enumerate(self.all_ops):
            if op.kind == "monomial":
                assert op.perm is not None  # a monomial op has its permutation
                inverse = np.empty_like(op.perm)  # argsort of a permutation, in O(2**n)
                inverse[op.perm] = np.arange(op.perm.shape[0], dtype=op.perm.dtype)
                phase = None if op.phase is None else c(op.phase)
                inv_phase = None if op.phase is None else c(np.conj(op.phase)[inverse])
                mono[i] = (c(op.perm, torch.long), phase, c(inverse, torch.long), inv_phase)
        consts["monomial"] = mono
        self._cache[key] = consts
        return consts

    # -- memory ------------------------------------------------------------------------------------

    def estimate_bytes(self, batch: int, dtype: torch.dtype, *, backprop: bool = False) -> int:
        """Estimated peak bytes to simulate ``batch`` samples (with autograd history if asked).

        The working states of the batch plus the observable table
        (:meth:`PauliTable.estimate_bytes`), which every batch needs.

        Example:
            >>> from hybridqml import circuits
            >>> spec = circuits.ry(2)
            >>> sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
            >>> sim.estimate_bytes(1, torch.complex128)   # 7 states of 4 amplitudes + 128
            576
        """
        itemsize = torch.empty(0, dtype=dtype).element_size()
        states = _WORKING_STATES + (2 * len(self._all_steps) if backprop else 0)
        return batch * (1 << self.n_qubits) * itemsize * states + self._table_bytes

    def check_memory(
        self, batch: int, dtype: torch.dtype, device: torch.device, *, backprop: bool = False
    ) -> None:
        """Raise :class:`~hybridqml.exceptions.BackendError` if the batch would not fit.

        Raises:
            BackendError: too many qubits for memory, with the bytes needed and available.
        """
        n = self.n_qubits
        if n > MAX_QUBITS:
            need = batch * (1 << n) * torch.empty(0, dtype=dtype).element_size()
            raise BackendError(
                f"the torch simulator would need at least {need:,} bytes "
                f"({human_bytes(need)}) for one statevector of {n} qubits; it supports at most "
                f"{MAX_QUBITS} qubits. Use fewer qubits or a sampling backend (backend='aer' "
                "with method='matrix_product_state' in backend_options)"
            )
        if hasattr(self, "program"):
            need = self.estimate_bytes(batch, dtype, backprop=backprop)
        else:  # before compiling: the states and the observable table
            need = batch * (1 << n) * torch.empty(0, dtype=dtype).element_size() * 2
            need += self._table_bytes
        limit = self.max_memory_bytes
        if limit is None:
            if need < _UNCHECKED_BYTES:
                return  # not worth a system call on every forward
            limit = available_memory(device)
        if limit is not None and need > limit:
            table = (
                f", {self._table_bytes:,} of them for the observable sign tables"
                if self._table_bytes
                else ""
            )
            raise BackendError(
                f"simulating {n} qubits with batch {batch} in {dtype} would need about "
                f"{need:,} bytes ({human_bytes(need)}{table}) but the limit is {limit:,} bytes "
                f"({human_bytes(limit)}); use a smaller batch, fewer qubits or observables, "
                "gradient='adjoint' (no autograd history), or backend='aer'"
            )

    # -- simulation --------------------------------------------------------------------------------

    def angles(self, theta: torch.Tensor) -> torch.Tensor:
        """Angle of every parameter occurrence: (B, P) -> (B, S)."""
        consts = self._constants(complex_dtype(theta.dtype), theta.device)
        if consts["all_columns"]:
            return theta.index_select(1, consts["columns"])
        slots = self.program.slots
        parts = [theta.index_select(1, consts["columns"])] if len(consts["columns"]) else []
        parts.append(torch.stack([slots[k](theta) for k in consts["others"]], dim=1))
        return torch.cat(parts, dim=1).index_select(1, consts["order"])

    def op_matrices(self, theta: torch.Tensor) -> list[torch.Tensor | None]:
        """The matrix of every op in :attr:`all_ops` (``None`` for monomial blocks).

        Parameterized matrices are (B, d, d); constant ones (d, d). Differentiable in ``theta``.
        """
        dtype = complex_dtype(theta.dtype)
        consts = self._constants(dtype, theta.device)
        # no slots: no trig or built gate, so phi is never read
        phi = self.angles(theta) if self.program.slots else theta.new_zeros((len(theta), 0))
        trig = {}
        for d, (idx, omega, a, bc, bs) in consts["trig"].items():
            t = phi.index_select(1, idx) / omega
            cos, sin = torch.cos(t).to(dtype), torch.sin(t).to(dtype)
            # unbind once: one backward node for the group instead of one select per gate
            trig[d] = (a + cos[..., None, None] * bc + sin[..., None, None] * bs).unbind(1)
        built = [
            build_matrix(name, [phi[:, s] for s in slots], dtype) for name, slots in self._built
        ]
        out: list[torch.Tensor | None] = []
        for op, plan in zip(self.all_ops, self._factor_plan, strict=True):
            if op.kind == "monomial":
                out.append(None)
                continue
            m = None
            for item in plan:
                if item[0] == "const":
                    f = consts["const"][item[1]]
                elif item[0] == "trig":
                    f = trig[item[1]][item[2]]
                else:
                    f = built[item[1]]
                m = f if m is None else torch.matmul(f, m)
            out.append(m)
        return out

    def apply(
        self, index: int, state: torch.Tensor, m: torch.Tensor | None, *, inverse: bool = False
    ) -> torch.Tensor:
        """Apply op ``index`` of :attr:`all_ops` (its inverse if asked) to a (..., B, 2^n) state.

        For the inverse of a matrix op, pass the conjugate transpose as ``m``.
        """
        op = self.all_ops[index]
        if op.kind == "monomial":
            consts = self._constants(state.dtype, state.device)
            perm, phase, inv, inv_phase = consts["monomial"][index]
            if inverse:
                perm, phase = inv, inv_phase
            return permute(state.contiguous(), perm, phase)
        if m is None:
            raise ValueError(f"op {index} ({op.kind!r}) needs its matrix")
        if op.kind == "one":
            return apply_one(state, self.n_qubits, op.qubits[0], m)
        return apply_general(state, self.n_qubits, op.qubits, m)

    def state(self, theta: torch.Tensor, matrices: list | None = None) -> torch.Tensor:
        """Final statevectors (B, 2^n) for parameter values ``theta`` (B, P)."""
        mats = self.op_matrices(theta) if matrices is None else matrices
        psi = self._product_state(theta, mats)
        track = torch.is_grad_enabled() and theta.requires_grad
        return run_steps(self, self._steps, psi, lambda st: step_matrix(st, mats), track=track)

    def _product_state(self, theta: torch.Tensor, mats: list) -> torch.Tensor:
        n, batch = self.n_qubits, theta.shape[0]
        dtype = complex_dtype(theta.dtype)
        zero = self._constants(dtype, theta.device)["zero"]
        vectors: list[torch.Tensor] = [zero] * n
        for op, m in zip(self.program.initial, mats, strict=False):
            vectors[op.qubits[0]] = m[..., :, 0]

        def kron(lo: int, hi: int) -> torch.Tensor:  # qubits [lo, hi): halves, one outer product
            if hi - lo == 1:
                return vectors[lo].expand(batch, 2)
            mid = (lo + hi) // 2
            low, high = kron(lo, mid), kron(mid, hi)
            return torch.bmm(high.unsqueeze(2), low.unsqueeze(1)).reshape(batch, -1)

        return kron(0, n)

    def expectations(self, theta: torch.Tensor) -> torch.Tensor:
        """Expectation values (B, O) at parameter values ``theta`` (B, P); differentiable.

        Raises:
            InputError: ``theta`` is not a (B, P) floating tensor.
            BackendError: the batch would not fit in memory.
        """
        self.check_input(theta)
        self.check_memory(
            theta.shape[0],
            complex_dtype(theta.dtype),
            theta.device,
            backprop=theta.requires_grad,
        )
        return self.table.expectations(self.state(theta))

    def check_input(self, theta: torch.Tensor) -> None:
        """Validate a (B, P) float32/float64 parameter matrix.

        Raises:
            InputError: wrong type, rank, width or dtype.
        """
        if not isinstance(theta, torch.Tensor) or theta.dtype not in (
            torch.float32,
            torch.float64,
        ):
            raise InputError("parameter values must be a float32 or float64 torch.Tensor")
        if theta.ndim != 2 or theta.shape[1] != self.n_params:
            raise InputError(
                f"parameter values must have shape (batch, {self.n_params}), "
                f"got {tuple(theta.shape)}"
            )

    def depends(self, index: int) -> frozenset[int]:
        """Parameter columns the matrix of op ``index`` depends on."""
        return self._depends[index]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def __repr__(self) -> str:
        p = self.program
        return (
            f"TorchSimulator(n_qubits={self.n_qubits}, ops={len(p.ops)}, "
            f"product_state_runs={len(p.initial)}, slots={len(p.slots)})"
        )
