"""The documentation site's sources: reference coverage, gallery format, link checker, commands.

The Sphinx build itself (minutes: it executes the gallery) runs in CI after the tests, from
README's docs command; these checks are the fast part that catches a public name, an example or
a link checker bug before the build does.
"""

import ast
import importlib
import re
import sys

import pytest
from workflow_testing import REPO_ROOT

import hybridqml

DOCS = REPO_ROOT / "docs"
sys.path.insert(0, str(DOCS))
_api = importlib.import_module("_api")
check_links = importlib.import_module("check_links")


def public_modules():
    """Every public module of hybridqml (on disk), and every module the top level exports."""
    names = set(_api.modules_under("hybridqml"))
    for name in hybridqml.__all__:
        value = getattr(hybridqml, name)
        if type(value).__name__ == "module":
            names.add(value.__name__)
    return sorted(names)


def test_public_modules_include_every_module_file():
    modules = public_modules()
    assert "hybridqml.plotting" in modules  # a module, not only packages
    assert "hybridqml.backends.mixed" in modules  # a subpackage
    assert not any("._" in m for m in modules)


def test_the_reference_is_small_enough_to_scan():
    """Issue 22: the public API is what users import, about 250 documented names at most."""
    documented = set()
    for _page, _title, group in _api.PAGES:
        for module_name in group:
            module = importlib.import_module(module_name)
            for name in _api.public_names(module_name):
                value = getattr(module, name)
                documented.add(id(value) if _api.is_shared(value) else (module_name, name))
    assert 150 < len(documented) <= 260, len(documented)


def test_every_public_name_has_a_reference_entry():
    documented_here = {m for _page, _title, group in _api.PAGES for m in group}
    homes = _api.documented_home()
    missing = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if name.startswith("__") or type(value).__name__ == "module":
                continue
            if _api.is_shared(value):
                if id(value) not in homes:
                    missing.append(f"{module_name}.{name}")
            elif module_name not in documented_here:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names with no API page (add the module to docs/_api.py): {missing}"


def test_each_object_is_documented_once_and_reexports_link_to_it(tmp_path):
    _api.write_pages(tmp_path)
    text = {p.stem: p.read_text() for p in tmp_path.glob("*.rst")}
    directives = re.findall(
        r"^\.\. auto(?:class|exception|function):: (\w+)", "\n".join(text.values()), re.M
    )
    # QuantumLayer is re-exported at the top level: one autoclass, one link from hybridqml.rst
    assert directives.count("QuantumLayer") == 1
    assert ":obj:`hybridqml.nn.QuantumLayer`" in text["hybridqml"]
    # the entropy errors have their one entry on the errors page (hybridqml.entropy does not
    # export them a second time)
    assert ".. autoexception:: EntropyError" in text["exceptions"]
    assert "EntropyError" not in text["entropy"]
    assert [line.split()[-1] for line in text["index"].splitlines()[6:]] == [
        "hybridqml",
        *[page for page, _title, _modules in _api.PAGES],
    ]


def test_constants_with_equal_values_are_not_merged():
    # small ints share one id in CPython: constants must be documented where they are
    assert not _api.is_shared(3) and not _api.is_shared("aer")
    assert _api.is_shared(hybridqml.QuantumLayer)


def _gallery_examples():
    return sorted(p for p in (REPO_ROOT / "examples").glob("[a-z]*.py"))


def test_gallery_lists_every_example_in_reading_order():
    conf = (DOCS / "conf.py").read_text()
    order = re.search(r"ExplicitOrder\(\s*\[(.*?)\]", conf, re.S).group(1)
    listed = re.findall(r'"([\w.]+\.py)"', order)
    assert sorted(listed) == sorted(p.name for p in _gallery_examples())
    assert len(listed) >= 8


@pytest.mark.parametrize("path", _gallery_examples(), ids=lambda p: p.name)
def test_example_is_a_gallery_page(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    assert docstring, f"{path.name} needs a docstring (the gallery page's title and text)"
    lines = docstring.strip("\n").splitlines()
    assert len(lines) >= 3 and set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), (
        f"{path.name}: the docstring must start with an RST title underlined with '='"
    )
    assert "# %%" in path.read_text(), f"{path.name}: split the code into cells with '# %%'"


def _page(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>")


def test_link_checker_finds_missing_files_and_anchors(tmp_path):
    _page(
        tmp_path / "index.html",
        '<a href="api/nn.html#good">ok</a><a href="api/nn.html#bad">x</a>'
        '<a href="missing.html">x</a><img src="_images/a.png"><img src="_images/gone.png">'
        '<a href="https://example.org/nowhere">external</a><a href="#top">self</a>'
        '<span id="top"></span>',
    )
    _page(tmp_path / "api" / "nn.html", '<h1 id="good">nn</h1><a href="../index.html">up</a>')
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "a.png").write_bytes(b"png")
    problems = check_links.broken_links(tmp_path)
    assert sorted(problems) == sorted(
        [
            "index.html -> api/nn.html#bad: no anchor #bad",
            "index.html -> missing.html: no such file",
            "index.html -> _images/gone.png: no such file",
        ]
    )


def test_link_checker_refuses_links_leaving_the_site(tmp_path):
    _page(tmp_path / "site" / "index.html", '<a href="../outside.html">x</a>')
    _page(tmp_path / "outside.html", "")
    assert check_links.broken_links(tmp_path / "site") == [
        "index.html -> ../outside.html: no such file"
    ]


def test_ci_runs_the_readme_docs_command_with_warnings_as_errors():
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"<!-- docs-command -->\s*```\n(.*?)```", readme, re.S).group(1)
    assert "sphinx -W" in block and "docs/check_site.py" in block and '".[docs]"' in block
    assert "docs-command" in (REPO_ROOT / ".ci" / "run").read_text()
