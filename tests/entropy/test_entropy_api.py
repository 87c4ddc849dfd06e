"""The hybridqml.entropy public surface."""

from __future__ import annotations

import hybridqml.entropy as entropy
from hybridqml import exceptions


def test_all_is_sorted_and_resolvable():
    assert list(entropy.__all__) == sorted(entropy.__all__, key=lambda s: (not s.isupper(), s))
    for name in entropy.__all__:
        assert getattr(entropy, name) is not None


def test_exceptions_are_the_project_tree():
    # the entropy errors live in hybridqml.exceptions only (one documented place per name)
    assert issubclass(exceptions.QRNGError, exceptions.EntropyError)
    assert issubclass(exceptions.HealthTestError, exceptions.EntropyError)
    assert not {"EntropyError", "QRNGError", "HealthTestError"} & set(entropy.__all__)


def test_the_public_surface_is_small_and_the_old_names_are_gone():
    import importlib

    import pytest

    assert len(entropy.__all__) <= 25
    for old in ("aer", "qrng", "registry", "stream", "sampling", "pool", "sources", "health"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"hybridqml.entropy.{old}")
    for name in ("SourceOptions", "MAX_READ_BYTES", "make_conditioner", "ENTROPY_CHOICES"):
        assert not hasattr(entropy, name)


def test_contract_classes_have_kind_and_name():
    src = entropy.PRNGSource(seed=0)
    assert isinstance(src, entropy.EntropySource)
    assert src.kind in entropy.SOURCE_KINDS and src.name
