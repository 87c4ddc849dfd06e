"""The public surface: every module's ``__all__`` matches what it defines."""

import importlib
import inspect
import pkgutil
import warnings

import pytest

import hybridqml

with warnings.catch_warnings():  # walking imports hybridqml.models, the deprecated old name
    warnings.simplefilter("ignore", DeprecationWarning)
    MODULES = sorted(
        m.name
        for m in pkgutil.walk_packages(hybridqml.__path__, prefix="hybridqml.")
        if not m.name.rsplit(".", 1)[-1].startswith("_")
        and not m.name.startswith("hybridqml.models")
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
        "import sys, hybridqml, hybridqml.workflows, hybridqml.workflows.registry as r\n"
        "print(r.workflow_names(), 'torch' in sys.modules)\n"
        "hybridqml.QuantumLayer; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == [
        "('textbook', 'noisy-mlp', 'qnn', 'gan') False",
        "True",
    ]


def test_first_layout_module_names_are_aliases_with_a_warning():
    import subprocess
    import sys

    code = (
        "import warnings, hybridqml\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    import hybridqml.layers as old, hybridqml.torchsim.simulator as old_sim\n"
        "    from hybridqml.tracking import Tracker\n"
        "    import hybridqml.entropy.cli as old_cli\n"
        "import hybridqml.nn.layers as new, hybridqml.backends.torchsim.simulator as new_sim\n"
        "import hybridqml.backends.tracking as tracking, hybridqml.cli.entropy as new_cli\n"
        "print(old is new, old_sim is new_sim, Tracker is tracking.Tracker, old_cli is new_cli)\n"
        "print(sorted({str(w.message).split(' moved')[0] for w in seen}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "True True True True"
    assert "hybridqml.layers" in lines[1] and "hybridqml.tracking" in lines[1]
    assert "hybridqml.entropy.cli" in lines[1]


def test_a_layer_pickled_under_the_old_module_names_loads(tmp_path):
    import pickle
    import subprocess
    import sys

    import torch

    import hybridqml as hq

    layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="torch")
    # pickle as the first layout did: the classes named by their old modules (which the aliases
    # resolve to the same objects, so pickle accepts them)
    from hybridqml.nn.engine import CircuitEngine

    classes = {type(layer): "hybridqml.layers", CircuitEngine: "hybridqml.engine"}
    saved = {cls: cls.__module__ for cls in classes}
    try:
        for cls, module in classes.items():
            cls.__module__ = module
        with warnings.catch_warnings():  # importing the old names warns (once per process)
            warnings.simplefilter("ignore", DeprecationWarning)
            data = pickle.dumps(layer)
    finally:
        for cls, module in saved.items():
            cls.__module__ = module
    assert b"hybridqml.layers" in data
    path = tmp_path / "old.pkl"
    path.write_bytes(data)
    x = torch.rand(3, 2)
    torch.save(x, tmp_path / "x.pt")
    expected = layer(x).detach()
    code = (
        "import pickle, warnings, torch, sys\n"
        "warnings.simplefilter('ignore')\n"
        f"layer = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"x = torch.load({str(tmp_path / 'x.pt')!r})\n"
        f"torch.save(layer(x).detach(), {str(tmp_path / 'y.pt')!r})\n"
        "print(type(layer).__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "hybridqml.nn.layers"
    torch.testing.assert_close(torch.load(tmp_path / "y.pt"), expected)
