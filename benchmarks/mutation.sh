#!/usr/bin/env bash
# Mutation testing of the core modules with mutmut (issue 14).
#
# Install: pip install -e '.[mutation]'. Run from anywhere: bash benchmarks/mutation.sh
# The modules mutated and the tests run against them are in pyproject.toml ([tool.mutmut]):
# gradients, circuits, the torch simulator's gate matrices, the sampler's observable handling
# (backends/measurement.py) and the entropy pool, health tests and sampling. mutmut copies the
# package into ./mutants (git-ignored), so PYTHONPATH must not point at the working tree. Takes
# about an hour on two cores; prints the kill rate per module and lists the surviving mutants
# (inspect one with `mutmut show NAME`). Re-runs reuse earlier results for unchanged code.
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONPATH
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" >/dev/null || true
mutmut results --all true >mutants/results.txt
python benchmarks/mutation_report.py mutants/results.txt
