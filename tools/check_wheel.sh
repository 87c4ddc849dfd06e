#!/usr/bin/env bash
# Packaging check (run by README's test command, so CI runs it): build the sdist and the wheel,
# `twine check` them, check what they ship (py.typed, entry points; no caches in the sdist),
# install the wheel into a fresh virtual environment and run `hybridqml demo --quick` from a
# folder outside the source tree, so only the installed wheel can be imported.
#
# The fresh venv does not download PyTorch and Qiskit again (~1 GB): it is created without
# --system-site-packages, and its only view of other packages is one .pth line naming the
# calling environment's site-packages (appended to sys.path after its own site-packages; the
# editable hybridqml there is not activated, since .pth files of an appended folder are not
# run). The wheel is installed with --no-deps, so what the shortcut could hide is checked
# explicitly: pip's resolver, offline (--dry-run --no-index), finds every dependency satisfied;
# tools/check_wheel_env.py checks every Requires-Dist (recursively) against the installed
# versions, then runs the demo with every module outside that declared closure made
# unimportable (a dependency the code needs but pyproject.toml forgets fails here, even though
# the calling environment has it; optional imports take their fallback as in a real fresh venv).
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

echo "== install the wheel into a fresh venv"
python -m venv --without-pip "$work/venv"  # its own pip/setuptools would shadow the deps
site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
fresh_site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$site" >"$fresh_site/_hybridqml_check_deps.pth"
# pip's own resolver, offline: the wheel's dependencies are satisfied by what the venv sees
python -m pip --python "$work/venv/bin/python" install --dry-run --no-index "$work"/dist/*.whl
python -m pip --python "$work/venv/bin/python" install --quiet --no-deps --no-index \
    "$work"/dist/*.whl
cp "$root/tools/check_wheel_env.py" "$work/check_wheel_env.py"

echo "== hybridqml demo --quick from $work (outside the source tree)"
cd "$work"
"$work/venv/bin/python" check_wheel_env.py installed "$root"
"$work/venv/bin/hybridqml" --help >/dev/null  # the console script itself
"$work/venv/bin/python" check_wheel_env.py demo --quick --no-progress
echo "wheel check passed"
