"""The hybridqml.entropy public surface."""

from __future__ import annotations

import hybridqml.entropy as entropy
from hybridqml import exceptions


def test_all_is_sorted_and_resolvable():
    assert list(entropy.__all__) == sorted(entropy.__all__, key=lambda s: (not s.isupper(), s))
    for name in entropy.__all__:
        assert getattr(entropy, name) is not None


def test_exceptions_are_the_project_tree():
    assert entropy.EntropyError is exceptions.EntropyError
    assert issubclass(entropy.QRNGError, exceptions.EntropyError)
    assert issubclass(entropy.HealthTestError, exceptions.EntropyError)


def test_contract_classes_have_kind_and_name():
    src = entropy.PRNGSource(seed=0)
    assert isinstance(src, entropy.EntropySource)
    assert src.kind in entropy.SOURCE_KINDS and src.name
