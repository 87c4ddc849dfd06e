"""Whether the tests run under mutmut (``tools/mutation/run.sh``).

mutmut routes every mutated function through a trampoline, one more stack frame between a
caller and a ``warnings.warn``: a warning's reported location (``stacklevel``) then names the
trampoline, not the caller. Tests of that location check it only outside mutmut; the mutants
that change a ``stacklevel`` are killed there (each was verified by hand) and listed in
``tools/mutation/equivalents.txt`` as ``[frames]``.
"""

from __future__ import annotations

import os

UNDER_MUTMUT = "MUTANT_UNDER_TEST" in os.environ


def reported_at(filename: str, expected: str) -> bool:
    """A warning's ``filename`` is ``expected`` (always true under mutmut's trampolines)."""
    return UNDER_MUTMUT or filename == expected
