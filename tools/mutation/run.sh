#!/usr/bin/env bash
# Mutation testing with mutmut (issues 14 and 24).
#
# Install: pip install -e '.[mutation]'. Run from anywhere:
#   bash tools/mutation/run.sh                  # the modules of pyproject.toml's [tool.mutmut]
#   bash tools/mutation/run.sh "hybridqml.runs._budget.*" ...   # only these mutants
#   bash tools/mutation/run.sh core [PATTERN...]                 # the first run's core modules
# pyproject.toml's [tool.mutmut] mutates the modules written since the first run (issue 24:
# outputs, templates, the numpy noisy simulator, probabilities, job retries, job log, cost,
# budget, output folder and lock, checkpoint, distributed and collectives, porting, entropy
# streams, QRNG replay check), each tested by its own fast tests (tests/mutation holds the tests
# written for its survivors). `core` swaps in tools/mutation/core.toml (gradients, circuits, the
# torch simulator's gate matrices, observable grouping, the entropy pool, health tests and
# sampling) for the run and restores pyproject.toml afterwards. mutmut copies the package into
# ./mutants (git-ignored), so PYTHONPATH must not point at the working tree. Prints the raw and
# adjusted kill rate per module (adjusted: without the survivors listed in
# tools/mutation/equivalents.txt) and lists the surviving mutants (inspect one with
# `mutmut show NAME`). Re-runs reuse earlier results for unchanged code. Last measured results:
# tools/mutation/last_report.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
unset PYTHONPATH
if [[ "${1:-}" == core ]]; then
    shift
    cp pyproject.toml mutants.pyproject.bak
    trap 'mv mutants.pyproject.bak pyproject.toml' EXIT
    python - <<'PY'
import pathlib
project = pathlib.Path("pyproject.toml")
text = project.read_text()
start = text.index("\n[tool.mutmut]")
end = text.index("\n[tool.", start + 1)
core = pathlib.Path("tools/mutation/core.toml").read_text()
project.write_text(text[:start] + core[core.index("\n[tool.mutmut]"):] + text[end:])
PY
fi
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "$@" >/dev/null || true
mutmut results --all true >mutants/results.txt
python tools/mutation/report.py mutants/results.txt
