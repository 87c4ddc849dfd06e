"""Generate the API reference pages from the package's ``__all__`` lists (nothing by hand).

One page per part of the pipeline, in the order of the package tree. Each page documents its
subpackage's public names (its ``__all__``) with autodoc; ``tests/docs`` and
``docs/check_reference.py`` check that every public name has an entry.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# (page, title, modules documented on it): the package tree, top to bottom
PAGES: list[tuple[str, str, tuple[str, ...]]] = [
    ("circuits", "Circuits", ("hybridqml.circuits",)),
    ("gradients", "Gradient rules", ("hybridqml.gradients",)),
    (
        "backends",
        "Backends",
        (
            "hybridqml.backends",
            "hybridqml.backends.aer",
            "hybridqml.backends.torchsim",
            "hybridqml.backends.tracking",
        ),
    ),
    ("nn", "Quantum layers (nn)", ("hybridqml.nn", "hybridqml.nn.noisy")),
    (
        "entropy",
        "Entropy",
        ("hybridqml.entropy", "hybridqml.entropy.sources", "hybridqml.entropy.sources.qrng"),
    ),
    ("data", "Data", ("hybridqml.data",)),
    ("training", "Training", ("hybridqml.training",)),
    ("workflows", "Workflows", ("hybridqml.workflows",)),
    ("plotting", "Plots and statistics", ("hybridqml.plotting", "hybridqml.analysis")),
    ("exceptions", "Errors", ("hybridqml.exceptions",)),
    ("cli", "Command line", ("hybridqml.cli",)),
]

# the first layout's alias package: importing it warns; its names are documented as workflows
DEPRECATED_MODULES = ("models",)

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


def is_shared(value: object) -> bool:
    """Classes and functions are documented once; constants (equal ints share an id) in place."""
    return isinstance(value, type) or callable(value)


def _module_section(module_name: str, first: bool, homes: dict[int, str]) -> str:
    names = public_names(module_name)
    lines = []
    if not first:
        lines += [f"``{module_name}``", "-" * (len(module_name) + 4), ""]
    lines += [f".. automodule:: {module_name}", "   :no-members:", ""]
    lines += [f".. currentmodule:: {module_name}", ""]
    module = importlib.import_module(module_name)
    elsewhere = []
    for name in names:
        value = getattr(module, name)
        if is_shared(value) and homes[id(value)] != f"{module_name}.{name}":
            elsewhere.append(f"- ``{name}``: :obj:`{homes[id(value)]}`")
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
        if name.startswith("__") or name in DEPRECATED_MODULES:
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
