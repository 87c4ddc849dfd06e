"""Checks for tools/check_wheel.sh: what the wheel and sdist ship, and the fresh venv.

Usage::

    python tools/check_wheel_env.py contents WHEEL SDIST      # py.typed, entry points, no caches
    python tools/check_wheel_env.py link-declared WHEEL DEST  # the declared dependencies only
    python tools/check_wheel_env.py installed SOURCE_ROOT     # in the fresh venv

``link-declared`` (run by the calling environment) symlinks into ``DEST`` the installed files of
exactly the distributions the wheel's ``Requires-Dist`` names, recursively (extras not
selected): the fresh venv sees them through one ``.pth`` line and nothing else of the calling
environment, so a dependency the code needs but the wheel does not declare fails to import, as
in a fresh install. ``installed`` checks that ``hybridqml`` comes from the fresh venv (not
``SOURCE_ROOT``), ships ``py.typed``, that every declared requirement is met by a version its
specifier accepts, and that no undeclared distribution is visible.
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


def declared_closure(requires: list[str]) -> dict[str, str]:
    """Distribution name -> version for ``requires``, recursively, with the extras they name.

    ``hybridqml``'s own extras are not selected; a dependency's requirement such as
    ``cuda-toolkit[cublas]`` brings that extra's requirements too.
    """
    found: dict[str, str] = {}
    done: set[tuple[str, str]] = set()  # (distribution, extra) pairs expanded
    todo = [("hybridqml", Requirement(r)) for r in requires]
    todo = [(p, r) for p, r in todo if r.marker is None or r.marker.evaluate({"extra": ""})]
    while todo:
        parent, requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        try:
            dist = md.distribution(requirement.name)
        except md.PackageNotFoundError:
            fail(f"{parent} requires {requirement}, which is not installed")
        if not requirement.specifier.contains(dist.version, prereleases=True):
            fail(f"{parent} requires {requirement}; installed {dist.version}")
        found[name] = dist.version
        extras = {"", *requirement.extras} - {e for n, e in done if n == name}
        done.update((name, e) for e in extras)
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras):
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
    closure = declared_closure(md.distribution("hybridqml").requires or [])
    unexpected = {canonicalize_name(d.metadata["Name"]) for d in md.distributions()}
    unexpected -= {*closure, "hybridqml"}
    if unexpected:
        fail(f"the venv sees undeclared distributions: {sorted(unexpected)}")
    print(f"installed ok: {location.parent}; {len(closure)} declared distributions resolve")


def link_declared(wheel: Path, dest: Path) -> None:
    """Symlink into ``dest`` the files of exactly the distributions the wheel declares.

    Run by the calling environment's python: the wheel's ``Requires-Dist`` (recursively, no
    extras) resolved against this environment's installed distributions; each one's top-level
    entries (packages, modules, ``.libs`` folders, its ``.dist-info``) are linked, nothing else.
    """
    metadata = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(metadata[0]).decode()
    requires = [line.split(":", 1)[1].strip() for line in text.splitlines()
                if line.startswith("Requires-Dist:")]  # fmt: skip
    closure = declared_closure(requires)
    dest.mkdir(parents=True)
    for name in closure:
        dist = md.distribution(name)
        if dist.files is None:
            fail(f"{name} has no RECORD: cannot tell its files")
        base = Path(str(dist.locate_file(""))).resolve()
        for top in {f.parts[0] for f in dist.files if f.parts[0] != ".."}:
            target = base / top
            if target.exists() and not (dest / top).exists():
                (dest / top).symlink_to(target)
    print(f"linked the {len(closure)} declared distributions into {dest}")


def main(argv: list[str]) -> None:
    """Dispatch the subcommand."""
    command, *rest = argv
    if command == "contents":
        check_contents(Path(rest[0]), Path(rest[1]))
    elif command == "link-declared":
        link_declared(Path(rest[0]), Path(rest[1]))
    elif command == "installed":
        check_installed(Path(rest[0]))
    else:
        fail(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
