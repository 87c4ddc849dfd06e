"""Checks for tools/check_wheel.sh: what the wheel and sdist ship, and the installed wheel.

Usage::

    python tools/check_wheel_env.py contents WHEEL SDIST  # py.typed, entry points, no caches
    python tools/check_wheel_env.py installed SOURCE_ROOT   # in the fresh venv: imports, deps
    python tools/check_wheel_env.py demo [ARGS...]          # in the fresh venv: demo + imports

``installed`` checks that ``hybridqml`` is imported from the fresh venv (not ``SOURCE_ROOT``) and
that every ``Requires-Dist`` of the installed wheel, and of its dependencies recursively (extras
not selected), is installed in a version its specifier accepts. ``demo`` runs the console
script's entry point (``hybridqml demo ARGS``) in this process with every third-party module
outside that declared closure made unimportable (so the calling environment's extra packages,
visible to the fresh venv, cannot hide a missing declaration).
"""

from __future__ import annotations

import importlib.abc
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
    """The hybridqml package comes from the fresh venv, and its declared dependencies resolve."""
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


class _DeclaredOnly(importlib.abc.MetaPathFinder):
    """Refuse top-level modules of distributions outside the declared closure, as if absent."""

    def __init__(self, blocked: set[str]) -> None:
        self.blocked = blocked
        self.refused: set[str] = set()

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        top = name.partition(".")[0]
        if top in self.blocked:
            self.refused.add(top)
            raise ModuleNotFoundError(f"No module named {top!r} (not declared)", name=top)
        return None


def check_demo(args: list[str]) -> None:
    """Run ``hybridqml demo ARGS`` through the entry point, seeing only declared dependencies.

    The calling environment's other packages (pytest, the ``ibm`` extra, ...) are made
    unimportable first, so the run behaves as in a venv holding only what the wheel declares:
    optional imports take their fallback, and a missing declaration fails the demo.
    """
    (script,) = md.entry_points(group="console_scripts", name="hybridqml")
    Path(sys.executable).with_name("hybridqml").resolve(strict=True)  # the script exists
    closure = declared_closure()
    blocked = {
        module
        for module, dists in md.packages_distributions().items()
        if module not in sys.modules
        and module not in sys.stdlib_module_names
        and not {canonicalize_name(d) for d in dists} & closure.keys()
    }
    finder = _DeclaredOnly(blocked)
    sys.meta_path.insert(0, finder)
    status = script.load()(["demo", *args])
    if status:
        fail(f"hybridqml demo exited with status {status}")
    refused = ", ".join(sorted(finder.refused)) or "none"
    print(
        f"demo ok with only the {len(closure)} declared distributions importable "
        f"({len(blocked)} other top-level modules hidden; optional imports refused: {refused})"
    )


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
