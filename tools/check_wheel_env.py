"""Checks for tools/check_wheel.sh: what the wheel and sdist ship, and the installed wheel.

Usage::

    python tools/check_wheel_env.py contents WHEEL SDIST  # py.typed, entry points, no caches
    python tools/check_wheel_env.py installed SOURCE_ROOT   # in the fresh venv: imports, deps
    python tools/check_wheel_env.py demo [ARGS...]          # in the fresh venv: demo + imports

``installed`` checks that ``hybridqml`` is imported from the fresh venv (not ``SOURCE_ROOT``) and
that every ``Requires-Dist`` of the installed wheel, and of its dependencies recursively (extras
not selected), is installed in a version its specifier accepts. ``demo`` runs the console
script's entry point (``hybridqml demo ARGS``) in this process, then fails if the run imported a
third-party module whose distribution is outside that declared closure.
"""

from __future__ import annotations

import importlib.metadata as md
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ENTRY_POINT_GROUPS = ("console_scripts", "hybridqml.backends", "hybridqml.entropy_sources")
SDIST_FORBIDDEN = ("__pycache__", ".pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv")


def fail(message: str) -> None:
    """Stop with ``message`` (exit status 1)."""
    sys.exit(f"wheel check FAILED: {message}")


def check_contents(wheel: Path, sdist: Path) -> None:
    """py.typed and the entry points in the wheel; no caches or build products in the sdist."""
    names = zipfile.ZipFile(wheel).namelist()
    if "hybridqml/py.typed" not in names:
        fail(f"{wheel.name} has no hybridqml/py.typed")
    entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    if not entry_points:
        fail(f"{wheel.name} has no entry_points.txt")
    text = zipfile.ZipFile(wheel).read(entry_points[0]).decode()
    for group in ENTRY_POINT_GROUPS:
        if f"[{group}]" not in text:
            fail(f"{wheel.name}: entry point group {group} missing from entry_points.txt")
    if any(not n.startswith(("hybridqml/", "hybridqml-")) for n in names):
        fail(f"{wheel.name} ships files outside the hybridqml package: {names}")
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    bad = [m for m in members if any(part in m for part in SDIST_FORBIDDEN)]
    bad += [m for m in members if "/docs/_build/" in m or m.endswith(".egg-info/")]
    if bad:
        fail(f"{sdist.name} ships caches or build products: {bad[:10]}")
    if not any(m.endswith("/hybridqml/py.typed") for m in members):
        fail(f"{sdist.name} has no hybridqml/py.typed")
    print(f"contents ok: {len(names)} files in the wheel, {len(members)} in the sdist")


def declared_closure() -> dict[str, str]:
    """Distribution name -> version for hybridqml's requirements, recursively (no extras)."""
    found: dict[str, str] = {}
    todo = [("hybridqml", Requirement("hybridqml"))]
    while todo:
        parent, requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            dist = md.distribution(requirement.name)
        except md.PackageNotFoundError:
            fail(f"{parent} requires {requirement}, which is not installed")
        if not requirement.specifier.contains(dist.version, prereleases=True):
            fail(f"{parent} requires {requirement}; installed {dist.version}")
        found[name] = dist.version
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is None or child.marker.evaluate({"extra": ""}):
                todo.append((dist.metadata["Name"], child))
    return found


def check_installed(source_root: Path) -> None:
    """hybridqml comes from the fresh venv, and its declared dependencies resolve."""
    import hybridqml

    location = Path(hybridqml.__file__).resolve()
    purelib = Path(sysconfig.get_paths()["purelib"]).resolve()
    if source_root.resolve() in location.parents or purelib not in location.parents:
        fail(f"hybridqml imported from {location}, not from the fresh venv's {purelib}")
    files = md.distribution("hybridqml").files or []
    if not any(str(f) == "hybridqml/py.typed" for f in files):
        fail("the installed hybridqml has no py.typed")
    closure = declared_closure()
    print(f"installed ok: {location.parent}; {len(closure)} declared distributions resolve")


def check_demo(args: list[str]) -> None:
    """Run ``hybridqml demo ARGS`` through the entry point; only declared imports allowed."""
    (script,) = md.entry_points(group="console_scripts", name="hybridqml")
    Path(sys.executable).with_name("hybridqml").resolve(strict=True)  # the script exists
    status = script.load()(["demo", *args])
    if status:
        fail(f"hybridqml demo exited with status {status}")
    closure = declared_closure()
    owners = md.packages_distributions()
    undeclared = {}
    for module in sorted({m.split(".")[0] for m in sys.modules}):
        if module in sys.stdlib_module_names or module.startswith("_"):
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        if dists and not dists & closure.keys():
            undeclared[module] = sorted(dists)
    if undeclared:
        fail(f"the demo imported modules of undeclared distributions: {undeclared}")
    print(f"demo ok: every third-party import is in the {len(closure)} declared distributions")


def main(argv: list[str]) -> None:
    """Dispatch the subcommand."""
    command, *rest = argv
    if command == "contents":
        check_contents(Path(rest[0]), Path(rest[1]))
    elif command == "installed":
        check_installed(Path(rest[0]))
    elif command == "demo":
        check_demo(rest)
    else:
        fail(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
