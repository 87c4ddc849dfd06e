"""Per-epoch entropy for workflows: :class:`EntropyStream`.

:class:`EntropyStream` is the workflows' link to :mod:`hybridqml.entropy`: it opens an
:class:`~hybridqml.entropy.EntropyPool` on the source its
:class:`~hybridqml.entropy.EntropySettings` name (any registered source that workflows offer:
``aer``, ``qrng``, ``os`` or ``prng`` built in) for every epoch, in ``pure`` mode (every delivered
byte read from the source) or ``expanded`` mode (a generator seeded and reseeded from the pool).
Seeded sources (``aer``, ``prng``: their entry's ``seeded`` flag) get the seed
:func:`~hybridqml._validation.epoch_seed` ``(seed, epoch)``, so the bytes of an epoch do not
depend on what ran before and a resumed run reproduces an
uninterrupted one; ``os`` and ``qrng`` bytes are fresh by nature, so resuming with them continues
the run but cannot repeat the noise bit for bit.

In a data-parallel run (``hybridqml.training._distributed``) every rank has its own stream:
seeded sources get :func:`hybridqml._ranks.rank_seed` of the epoch seed (a sub-stream per rank
and world size, reproducible for a given world size), fresh sources deliver other bytes to every
rank by nature, so no two ranks consume the same bytes. Rank 0's totals are the ones a
checkpoint carries; the per-rank provenance is merged into ``metrics.json`` by
:func:`hybridqml.training.gather_provenance`.

The stream never silently changes source: a failing source raises an
:class:`~hybridqml.exceptions.EntropyError` (a :class:`~hybridqml.exceptions.QRNGError` for the
QRNG, a plain ``EntropyError`` for a failed Aer job) unless ``fallback`` names another source, in
which case the switch is warned about and recorded in the provenance. Resuming never changes the
source either: the stream's state records its source, mode and any switch to the fallback, and a
stream with other settings refuses it. A run that had switched to its requested fallback continues
on the fallback when resumed with the same settings (it does not retry the failed source, just as
the uninterrupted run would not have).
"""

from __future__ import annotations

import copy
import re
import warnings
from typing import Any

from hybridqml._ranks import rank, rank_seed, world_size
from hybridqml._validation import epoch_seed
from hybridqml.entropy._pool import EntropyPool
from hybridqml.entropy._registry import lookup, source_names
from hybridqml.entropy._settings import EntropySettings, flag, make_source
from hybridqml.exceptions import ConfigurationError, EntropyError

__all__ = ["EntropyStream"]


class EntropyStream:
    """Per-epoch entropy for a workflow: ``read(n)`` bytes, checkpointable, honest provenance.

    Once the requested fallback has replaced a failed source, the rest of the run (including a
    resumed run: the switch is part of the checkpointed state) draws from the fallback.

    Args:
        settings: Source, mode, fallback and the source's options.
        seed: Run seed; seeded sources use :func:`~hybridqml._validation.epoch_seed` of it.

    Raises:
        ConfigurationError: ``settings.source`` is not offered to workflows (a fake device).

    Example:
        >>> stream = EntropyStream(settings=EntropySettings(source="prng", mode="pure"), seed=1)
        >>> stream.open_epoch(1); len(stream.read(8))
        8
        >>> stream.provenance()["kind"]
        'pseudo'
        >>> stream.close()
    """

    def __init__(self, *, settings: EntropySettings, seed: int) -> None:
        offered = source_names(workflows=True)
        if settings.source not in offered:  # e.g. fake devices: for the entropy command only
            raise ConfigurationError(
                f"unknown entropy source {settings.source!r} for a workflow; choose one of "
                f"{offered}"
            )
        self.settings = settings
        self.seed = int(seed)
        self.epoch: int | None = None
        self.active_source = settings.source
        self.fallback_used = False
        self.fallback_reason: str | None = None
        self._source: Any = None
        self._pool: EntropyPool | None = None
        self._reader: Any = None
        self._totals = {"source_bytes": 0, "delivered_bytes": 0}
        self._kind = ""
        self._name = ""

    @property
    def name(self) -> str:
        """Name of the current source (no credentials)."""
        return self._name or self.settings.source

    @property
    def kind(self) -> str:
        """Honest kind of the current source (``"simulated-quantum"``, ``"quantum"``, ...)."""
        return self._kind

    def open_epoch(self, epoch: int) -> None:
        """Close the current pool and open a fresh one for ``epoch`` (seeded sources reseeded)."""
        self._close_current()
        self.epoch = int(epoch)
        self._open(self.active_source)

    def read(self, n: int) -> bytes:
        """Return ``n`` fresh bytes (each delivered once).

        Raises:
            EntropyError: The source failed (``QRNGError`` for the QRNG) and no fallback was
                requested.
        """
        if self._reader is None:
            self.open_epoch(1 if self.epoch is None else self.epoch)
        try:
            return self._reader.read(n)
        except EntropyError as exc:
            fallback = self.settings.fallback
            if fallback is None or self.fallback_used:
                raise _with_message(
                    exc,
                    f"{exc} [entropy source {self.active_source!r} failed; no fallback source "
                    f"was requested (CLI: {flag('fallback')} {'|'.join(_fallbacks())}), so "
                    "the run stops rather than silently using other random numbers]",
                ) from exc
            warnings.warn(
                f"entropy source {self.active_source!r} failed ({exc}); switching to the "
                f"requested fallback {fallback!r} (recorded in the provenance)",
                RuntimeWarning,
                stacklevel=2,
            )
            self.fallback_used, self.fallback_reason = True, str(exc)
            self._close_current()
            self.active_source = fallback
            self._open(fallback)
            return self._reader.read(n)

    def provenance(self) -> dict[str, Any]:
        """Accounting over the whole run so far, for ``metrics.json``."""
        totals = dict(self._totals)
        if self._reader is not None:
            prov = self._reader.provenance()
            totals["source_bytes"] += prov.source_bytes
            totals["delivered_bytes"] += prov.delivered_bytes
        delivered = totals["delivered_bytes"]
        ratio = totals["source_bytes"] / delivered if delivered else None
        return {
            "source": self.settings.source,
            "active_source": self.active_source,
            "name": self.name,
            "kind": self.kind,
            "mode": self.settings.mode,
            "seeded": _is_seeded(self.active_source),
            "health_tests": self.settings.health_tests,
            "source_bytes": totals["source_bytes"],
            "delivered_bytes": totals["delivered_bytes"],
            "source_to_delivered": ratio,
            "fallback": self.settings.fallback,
            "fallback_used": self.fallback_used,
            "fallback_reason": self.fallback_reason,
            **({"rank": rank(), "world_size": world_size()} if world_size() > 1 else {}),
        }

    def state_dict(self) -> dict[str, Any]:
        """Epoch, sources, fallback and byte totals (the bytes themselves are never stored)."""
        prov = self.provenance()
        return {
            "epoch": -1 if self.epoch is None else self.epoch,
            "source": self.settings.source,
            "mode": self.settings.mode,
            "active_source": self.active_source,
            "fallback_used": self.fallback_used,
            "fallback_reason": self.fallback_reason,
            "source_bytes": prov["source_bytes"],
            "delivered_bytes": prov["delivered_bytes"],
            # bytes of the open epoch already used: a mid-epoch checkpoint skips them on resume
            "epoch_delivered": self._reader.provenance().delivered_bytes if self._reader else 0,
        }

    def load_state_dict(self, state: dict[str, Any], /) -> None:
        """Restore the accounting and reopen the source at the stored epoch.

        The state must come from a stream with the same source and mode. If that stream had
        switched to its fallback, this one continues on the fallback, which must therefore be
        this stream's fallback too.

        Raises:
            ConfigurationError: The state was recorded with another source, mode or fallback.
        """
        settings = self.settings
        for key in ("source", "mode"):
            recorded = state.get(key, getattr(settings, key))
            if recorded != getattr(settings, key):
                raise ConfigurationError(
                    f"the checkpointed entropy stream used {key} {recorded!r}, this run asks "
                    f"for {getattr(settings, key)!r}: resume with {key}={recorded!r} "
                    f"(CLI: {flag(key)} {recorded}) or start a new run in another output folder"
                )
        active = str(state["active_source"])
        fallback_used = bool(state["fallback_used"])
        if active != settings.source and not fallback_used:
            raise ConfigurationError(
                f"the checkpointed entropy stream drew from {active!r}, this run asks for "
                f"{settings.source!r}: resume with source={active!r} "
                f"(CLI: {flag('source')} {active}) or start a new run in another output folder"
            )
        if active != settings.source and active != settings.fallback:
            raise ConfigurationError(
                f"the checkpointed run had switched from entropy source {settings.source!r} to "
                f"its requested fallback {active!r} and continues on it when resumed, but this "
                f"run's fallback is {settings.fallback!r}: resume with fallback={active!r} "
                f"(CLI: {flag('fallback')} {active}) or start a new run in another output folder"
            )
        self._close_current()
        carried = rank() == 0  # the checkpoint holds rank 0's totals: count them once
        self._totals = {
            "source_bytes": int(state["source_bytes"]) if carried else 0,
            "delivered_bytes": int(state["delivered_bytes"]) if carried else 0,
        }
        self.active_source = active
        self.fallback_used = fallback_used
        reason = state.get("fallback_reason")
        self.fallback_reason = None if reason is None else str(reason)
        self.epoch = None if int(state["epoch"]) < 0 else int(state["epoch"])
        if self.epoch is not None:
            self._open(self.active_source)
            self._skip(int(state.get("epoch_delivered", 0)))

    def _skip(self, n: int) -> None:
        """Continue a seeded epoch after its first ``n`` bytes (a mid-epoch resume).

        The skipped bytes were delivered before the checkpoint and are in its totals already.
        Fresh sources (os, qrng) cannot repeat an epoch, so nothing is skipped there.
        """
        if n <= 0 or self._reader is None or not _is_seeded(self.active_source):
            return
        self._reader.read(n)
        prov = self._reader.provenance()
        self._totals["source_bytes"] -= prov.source_bytes
        self._totals["delivered_bytes"] -= prov.delivered_bytes

    def close(self) -> None:
        """Close the current pool and source."""
        self._close_current()

    # ------------------------------------------------------------------ internals
    def _open(self, name: str) -> None:
        epoch = 0 if self.epoch is None else self.epoch
        seed = rank_seed(epoch_seed(self.seed, epoch))  # each rank its own sub-stream
        source = make_source(name, self.settings, seed=seed)
        self._source = source
        self._pool = self.settings.open_pool(source)
        self._reader = self._pool.generator() if self.settings.mode == "expanded" else self._pool
        raw_name = str(getattr(self._reader, "name", type(source).__name__))
        name = re.sub(r",? seed=\d+", "", raw_name)  # the per-epoch seed is an internal detail
        if name != raw_name:
            per = "epoch and rank" if world_size() > 1 else "epoch"
            name += f" [seeded per {per} from run seed {self.seed}]"
        self._name = name
        self._kind = str(getattr(source, "kind", ""))

    def _close_current(self) -> None:
        if self._reader is not None:
            prov = self._reader.provenance()
            self._totals["source_bytes"] += prov.source_bytes
            self._totals["delivered_bytes"] += prov.delivered_bytes
        if self._pool is not None:
            self._pool.close()
        if self._source is not None:
            self._source.close()
        self._source = self._pool = self._reader = None


def _with_message(exc: EntropyError, message: str) -> EntropyError:
    """A copy of ``exc`` (same class, ``status``, ``attempts``, ``result``) saying ``message``."""
    new = copy.copy(exc)
    new.args = (message,)
    return new


def _is_seeded(name: str) -> bool:
    """``True`` if the source ``name`` is reproducible from a seed (its entry says so)."""
    return lookup(name)[1].seeded


def _fallbacks() -> tuple[str, ...]:
    return source_names(workflows=True, fallback=True)
