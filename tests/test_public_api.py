"""The public surface: every module's ``__all__`` matches what it defines."""

import importlib
import inspect
import pkgutil

import pytest

import hybridqml

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(hybridqml.__path__, prefix="hybridqml.")
    if not any(part.startswith("_") for part in m.name.split(".")[1:])
)


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_exactly_the_public_definitions(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.__all__ lists missing {symbol}"
    defined = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == name
    }
    assert defined <= set(exported), (
        f"{name} defines public {defined - set(exported)} not in __all__"
    )


def test_public_objects_have_docstrings():
    for name in MODULES:
        module = importlib.import_module(name)
        assert module.__doc__, f"{name} has no module docstring"
        for symbol in module.__all__:
            obj = getattr(module, symbol)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__doc__, f"{name}.{symbol} has no docstring"


def test_contract_names():
    import hybridqml.circuits as c

    assert callable(c.ry) and callable(c.variational)
    assert hybridqml.QuantumLayer and hybridqml.ParameterizedCircuit
    for exc in ("BackendError", "GradientError", "EntropyError", "QRNGError", "HealthTestError"):
        assert issubclass(getattr(hybridqml, exc), hybridqml.HybridQMLError)
    assert issubclass(hybridqml.QRNGError, hybridqml.EntropyError)
    assert issubclass(hybridqml.HealthTestError, hybridqml.EntropyError)


def test_workflows_and_top_level_names_load_lazily():
    import subprocess
    import sys

    code = (
        "import sys, hybridqml, hybridqml.workflows, hybridqml.workflows._registry as r\n"
        "print(r.workflow_names(), 'torch' in sys.modules)\n"
        "hybridqml.QuantumLayer; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == [
        "('textbook', 'noisy-mlp', 'qnn', 'gan') False",
        "True",
    ]


def test_the_lazy_runs_table_follows_its_modules():
    """``hybridqml.runs`` names what each module exports without importing it (no torch on
    ``import hybridqml.runs``), so its table repeats the modules' ``__all__``: keep them equal."""
    import hybridqml.runs as runs

    exported = set()
    for info in pkgutil.iter_modules(runs.__path__):
        exported.update(importlib.import_module(f"hybridqml.runs.{info.name}").__all__)
    assert exported == set(runs._NAMES)
    for name, module in runs._NAMES.items():
        assert name in importlib.import_module(module).__all__, (name, module)


@pytest.mark.parametrize(
    "old",
    [
        "hybridqml.layers",
        "hybridqml.tracking",
        "hybridqml.torchsim",
        "hybridqml.noise",
        "hybridqml.models",
        "hybridqml.entropy.cli",
        "hybridqml.entropy.aer",
        "hybridqml.entropy.qrng",
    ],
)
def test_no_compatibility_aliases(old):
    """Nothing was released: the first layout's module names are gone, not aliased."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)
    if old.count(".") == 1:
        assert not hasattr(hybridqml, old.split(".")[1])
