"""Kill rate per module from ``mutmut results --all true`` output (used by mutation.sh)."""

from __future__ import annotations

import collections
import sys

KILLED = {"killed", "timeout", "segfault"}  # the tests noticed the mutant
COUNTED = KILLED | {"survived", "no tests"}


def main(path: str) -> int:
    per_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            name, sep, status = line.strip().rpartition(": ")
            if not sep or status not in COUNTED:
                continue
            module = name.split(".x_")[0].split(".xǁ")[0]
            per_module[module][status in KILLED] += 1
            if status not in KILLED:
                survivors.append(f"{name}: {status}")
    total = collections.Counter()
    print(f"{'module':45} {'killed':>7} {'total':>6} {'rate':>6}")
    for module in sorted(per_module):
        counts = per_module[module]
        total.update(counts)
        n = counts[True] + counts[False]
        print(f"{module:45} {counts[True]:7d} {n:6d} {counts[True] / n:6.1%}")
    n = total[True] + total[False]
    print(f"{'all':45} {total[True]:7d} {n:6d} {total[True] / max(n, 1):6.1%}")
    print(f"\n{len(survivors)} surviving mutants:")
    print("\n".join(survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "mutants/results.txt"))
