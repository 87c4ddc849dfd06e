#!/usr/bin/env bash
# Mutation testing of the core modules with mutmut (issue 14).
#
# Install: pip install -e '.[mutation]'. Run from anywhere: bash tools/mutation/run.sh
# The modules mutated and the tests run against them are in pyproject.toml ([tool.mutmut]):
# gradients, circuits, the torch simulator's gate matrices, the sampler's observable handling
# (backends/measurement.py) and the entropy pool, health tests and sampling. mutmut copies the
# package into ./mutants (git-ignored), so PYTHONPATH must not point at the working tree. Takes
# one to two hours on two cores; prints the raw and adjusted kill rate per module (adjusted: without
# the survivors listed in tools/mutation/equivalents.txt) and lists the surviving mutants
# (inspect one with `mutmut show NAME`). Re-runs reuse earlier results for unchanged code; name
# mutants to re-run them (`mutmut run "hybridqml.entropy.health.*"`). Last measured results:
# tools/mutation/last_report.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
unset PYTHONPATH
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" >/dev/null || true
mutmut results --all true >mutants/results.txt
python tools/mutation/report.py mutants/results.txt
