"""Generate the API reference pages from the modules' ``__all__`` lists (nothing by hand).

One page per part of the pipeline, in the order of the package tree. Each page documents the
public names (``__all__``) of its subpackage and of every public module below it with autodoc,
each object once (re-exports link to it); ``tests/docs`` checks that every public name of every
public module has an entry.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# (page, title, modules documented on it): the package tree, top to bottom
PAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("circuits", "Circuits", ("hybridqml.circuits",)),
    ("gradients", "Gradient rules", ("hybridqml.gradients",)),
    ("mitigation", "Error mitigation", ("hybridqml.mitigation",)),
    ("execution", "Execution core", ("hybridqml.execution",)),
    ("backends", "Backends", ("hybridqml.backends",)),
    ("hardware", "Hardware operations", ("hybridqml.hardware",)),
    ("nn", "Quantum layers (nn)", ("hybridqml.nn",)),
    ("entropy", "Entropy", ("hybridqml.entropy",)),
    ("data", "Data", ("hybridqml.data",)),
    ("runs", "Runs", ("hybridqml.runs",)),
    ("training", "Training", ("hybridqml.training",)),
    ("workflows", "Workflows", ("hybridqml.workflows",)),
    ("plotting", "Plots and statistics", ("hybridqml.plotting", "hybridqml.analysis")),
    ("testing", "Testing backends", ("hybridqml.testing",)),
    ("exceptions", "Errors", ("hybridqml.exceptions",)),
    ("cli", "Command line", ("hybridqml.cli",)),
]

_ROOT = Path(__file__).resolve().parent.parent / "hybridqml"


def modules_under(name: str) -> list[str]:
    """``name`` and, for a package, every public module below it (found on disk, not imported).

    Private modules (a part starting with ``_``) are left out.
    """
    folder = _ROOT.joinpath(*name.split(".")[1:])
    if not folder.is_dir():
        return [name]
    found = [name]
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(_ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not parts or any(p.startswith("_") for p in parts):
            continue
        module = ".".join(("hybridqml", *parts))
        if module not in found:
            found.append(module)
    return found


# every page: its packages, then each public module below them (each module on one page)
_seen: set[str] = set()
PAGES = [
    (
        page,
        title,
        tuple(m for p in roots for m in modules_under(p) if not (m in _seen or _seen.add(m))),
    )
    for page, title, roots in PAGES
]


# names of a module's __all__ that are modules themselves: documented on their own pages
_SKIP_KINDS = ("module",)


def public_names(module_name: str) -> list[str]:
    """The names in ``module_name.__all__`` that are not modules (those have their own pages)."""
    module = importlib.import_module(module_name)
    names = []
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if type(value).__name__ not in _SKIP_KINDS and not name.startswith("__"):
            names.append(name)
    return names


def documented_home() -> dict[int, str]:
    """``id(object) -> full documented name``: each public object is documented once.

    Its home is :mod:`hybridqml.exceptions` for errors, else the first module in :data:`PAGES`
    order whose ``__all__`` has it; other modules that re-export it link there.
    """
    homes: dict[int, str] = {}
    modules = [m for _page, _title, group in PAGES for m in group]
    modules.sort(key=lambda m: m != "hybridqml.exceptions")  # errors live on the errors page
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in public_names(module_name):
            value = getattr(module, name)
            if is_shared(value):
                homes.setdefault(id(value), f"{module_name}.{name}")
    return homes


def constant_homes() -> dict[tuple[str, int], str]:
    """``(name, id(value)) -> module``: a re-exported constant is documented where first listed."""
    homes: dict[tuple[str, int], str] = {}
    for module_name in (m for _page, _title, group in PAGES for m in group):
        module = importlib.import_module(module_name)
        for name in public_names(module_name):
            value = getattr(module, name)
            if not is_shared(value):
                homes.setdefault((name, id(value)), module_name)
    return homes


def is_shared(value: object) -> bool:
    """Classes and functions are documented once; constants (equal ints share an id) in place."""
    return isinstance(value, type) or callable(value)


def _module_section(module_name: str, first: bool, homes: dict[int, str]) -> str:
    names = public_names(module_name)
    lines = []
    if not first:
        lines += [f"``{module_name}``", "-" * (len(module_name) + 4), ""]
    lines += [f".. automodule:: {module_name}", "   :no-members:"]
    if module_name in homes.values():  # a module named like a function it defines (cli.main)
        lines.append("   :no-index:")
    lines.append("")
    lines += [f".. currentmodule:: {module_name}", ""]
    module = importlib.import_module(module_name)
    elsewhere = []
    constants = constant_homes()
    for name in names:
        value = getattr(module, name)
        if is_shared(value) and homes[id(value)] != f"{module_name}.{name}":
            elsewhere.append(f"- ``{name}``: :obj:`{homes[id(value)]}`")
            continue
        home = constants.get((name, id(value)), module_name)
        if not is_shared(value) and home != module_name:
            elsewhere.append(f"- ``{name}``: :data:`{home}.{name}`")
            continue
        if isinstance(value, type):
            directive = "autoexception" if issubclass(value, BaseException) else "autoclass"
            lines += [f".. {directive}:: {name}", "   :members:", ""]
        elif callable(value):
            lines += [f".. autofunction:: {name}", ""]
        else:
            lines += [f".. autodata:: {name}", "   :annotation:", ""]
    if elsewhere:
        lines += [f"Also available from ``{module_name}``, documented once elsewhere:", ""]
        lines += [*elsewhere, ""]
    return "\n".join(lines)


def _top_level_page() -> str:
    import hybridqml

    lines = [
        "``hybridqml``",
        "=============",
        "",
        ".. automodule:: hybridqml",
        "   :no-members:",
        "",
        "Names available at the top level (``import hybridqml as hq``), and where each is"
        " documented:",
        "",
    ]
    for name in hybridqml.__all__:
        if name.startswith("__"):
            continue
        value = getattr(hybridqml, name)
        if type(value).__name__ == "module":
            lines.append(f"- ``hq.{name}``: :mod:`{value.__name__}`")
        else:
            lines.append(f"- ``hq.{name}``: :obj:`{canonical_name(name, value)}`")
    return "\n".join(lines) + "\n"


def canonical_name(name: str, value: object) -> str:
    """The documented full name of a top-level object (the subpackage page that has it)."""
    home = documented_home().get(id(value)) if is_shared(value) else None
    if home is None:
        raise LookupError(f"hybridqml.{name} is not documented on any API page")
    return home


def write_pages(folder: Path) -> None:
    """Write ``index.rst`` and one page per part of the pipeline into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    toc = ["API reference", "=============", "", ".. toctree::", "   :maxdepth: 1", ""]
    toc.append("   hybridqml")
    _write(folder / "hybridqml.rst", _top_level_page())
    homes = documented_home()
    for page, title, modules in PAGES:
        body = [title, "=" * len(title), ""]
        body += [_module_section(m, i == 0, homes) for i, m in enumerate(modules)]
        _write(folder / f"{page}.rst", "\n".join(body))
        toc.append(f"   {page}")
    _write(folder / "index.rst", "\n".join(toc) + "\n")


def _write(path: Path, text: str) -> None:
    # rewrite only on change, so Sphinx's incremental builds stay incremental
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
