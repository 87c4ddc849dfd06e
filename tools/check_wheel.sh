#!/usr/bin/env bash
# Packaging check (run by README's test command, so CI runs it): build the sdist and the wheel,
# `twine check` them, check what they ship (py.typed, entry points; no caches in the sdist),
# install the wheel into a fresh virtual environment and run `hybridqml demo --quick` from a
# folder outside the source tree, so only the installed wheel can be imported.
#
# The fresh venv does not download PyTorch and Qiskit again (~1 GB): it is created without
# --system-site-packages and without pip, and its only view of other packages is one .pth line
# naming a folder of symlinks to exactly the distributions the wheel declares (its Requires-Dist,
# recursively, as installed in the calling environment; tools/check_wheel_env.py link-declared).
# Nothing else of the calling environment (pytest, the ibm extra, ...) is importable, so a
# dependency the code needs but pyproject.toml does not declare fails the demo as it would in a
# fresh install, and pip's own resolver (--dry-run --no-index) must find every requirement met.
# What this does not test is pip downloading the dependencies from the index.
#
# Usage: tools/check_wheel.sh   (from any folder; uses the active environment's python)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hybridqml-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== build (sdist and wheel) into $work/dist"
python -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 || {
    cat "$work/build.log"
    exit 1
}
python -m twine check --strict "$work"/dist/*
python "$root/tools/check_wheel_env.py" contents "$work"/dist/*.whl "$work"/dist/*.tar.gz

echo "== install the wheel into a fresh venv that sees only the declared dependencies"
python -m venv --without-pip "$work/venv"
python "$root/tools/check_wheel_env.py" link-declared "$work"/dist/*.whl "$work/declared"
fresh_site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$work/declared" >"$fresh_site/_hybridqml_declared_deps.pth"
# pip's resolver, offline: every requirement of the wheel is met by what the venv sees
python -m pip --python "$work/venv/bin/python" install --dry-run --no-index --quiet \
    "$work"/dist/*.whl
python -m pip --python "$work/venv/bin/python" install --no-deps --no-index --quiet \
    "$work"/dist/*.whl
cp "$root/tools/check_wheel_env.py" "$work/check_wheel_env.py"

echo "== hybridqml demo --quick from $work (outside the source tree)"
cd "$work"
"$work/venv/bin/python" check_wheel_env.py installed "$root"
"$work/venv/bin/hybridqml" demo --quick --no-progress --out "$work/demo"
echo "wheel check passed"
