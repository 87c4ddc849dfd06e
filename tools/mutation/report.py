"""Kill rate per module from ``mutmut results --all true`` output (used by run.sh).

Prints the raw rate (every mutant counts) and an adjusted rate that leaves out the surviving
mutants listed in ``tools/mutation/equivalents.txt`` (one ``NAME  # reason`` a line:
mutants that cannot change behaviour, or only change message text). Entries that no longer
survive, or no longer exist (mutant numbers shift when a function changes), are reported as
stale so the list is kept honest.
"""

from __future__ import annotations

import collections
import pathlib
import sys

KILLED = {"killed", "timeout", "segfault"}  # the tests noticed the mutant
COUNTED = KILLED | {"survived", "no tests"}
EQUIVALENTS = pathlib.Path(__file__).with_name("equivalents.txt")


def module_of(name: str) -> str:
    """The module a mutant belongs to (``pkg.mod.x_f__mutmut_3`` -> ``pkg.mod``)."""
    return name.split(".x_")[0].split(".xǁ")[0]


def read_equivalents(path: pathlib.Path) -> dict[str, str]:
    """Mutant name -> reason, from ``NAME  # reason`` lines (blank and ``#`` lines skipped)."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, reason = line.partition("#")
        if name.strip():
            out[name.strip()] = reason.strip()
    return out


def main(path: str, equivalents_path: pathlib.Path = EQUIVALENTS) -> int:
    """Print the raw and adjusted kill rate per module and the survivors; return 0."""
    status_of: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            name, sep, status = line.strip().rpartition(": ")
            if sep and status in COUNTED:
                status_of[name] = status
    equivalents = read_equivalents(equivalents_path)
    excluded = {n for n in equivalents if status_of.get(n) in {"survived", "no tests"}}
    stale = sorted(set(equivalents) - excluded)

    raw: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, status in status_of.items():
        counts = raw[module_of(name)]
        counts["killed" if status in KILLED else "alive"] += 1
        counts["excluded"] += name in excluded

    def rate(killed: int, total: int) -> str:
        return f"{killed / total:6.1%}" if total else "     -"

    print(f"{'module':40} {'killed':>6} {'total':>6} {'raw':>6} {'equiv':>6} {'adjusted':>8}")
    total = collections.Counter()
    for module in sorted(raw):
        c = raw[module]
        total.update(c)
        n = c["killed"] + c["alive"]
        print(
            f"{module:40} {c['killed']:6d} {n:6d} {rate(c['killed'], n)} {c['excluded']:6d} "
            f"{rate(c['killed'], n - c['excluded']):>8}"
        )
    n = total["killed"] + total["alive"]
    print(
        f"{'all':40} {total['killed']:6d} {n:6d} {rate(total['killed'], n)} "
        f"{total['excluded']:6d} {rate(total['killed'], n - total['excluded']):>8}"
    )
    survivors = sorted(n for n, s in status_of.items() if s not in KILLED and n not in excluded)
    print(f"\n{len(survivors)} surviving mutants (not listed as equivalent):")
    print("\n".join(f"{n}: {status_of[n]}" for n in survivors))
    print(f"\n{len(excluded)} surviving mutants excluded as equivalent ({equivalents_path.name}):")
    print("\n".join(f"{n}: {equivalents[n]}" for n in sorted(excluded)))
    if stale:
        print(f"\n{len(stale)} stale entries in {equivalents_path.name} (killed or gone):")
        print("\n".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "mutants/results.txt"))
