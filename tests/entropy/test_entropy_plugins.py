"""A source from another distribution, found through its entry point, without editing hybridqml.

The throwaway distribution is a module plus a ``*.dist-info`` folder (``METADATA`` and
``entry_points.txt``) on ``PYTHONPATH`` of a fresh interpreter: exactly what ``pip install``
leaves in ``site-packages``. Its source delivers a fixed SHA-256 counter stream, so the test
sees that the bytes are the plugin's own and not some built-in's.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN = """
import hashlib

from hybridqml.entropy import EntropySource, SourceEntry


def pattern(n):
    blocks = (hashlib.sha256(b"dice-%d" % i).digest() for i in range(-(-n // 32)))
    return b"".join(blocks)[:n]


class DiceSource(EntropySource):
    name = "dice (plugin)"
    kind = "pseudo"

    def __init__(self):
        self._offset = 0
        self._stream = pattern(1 << 16)

    def _read(self, n):
        out = self._stream[self._offset : self._offset + n]
        self._offset += n
        return out


DICE = SourceEntry(
    factory=lambda settings, *, name, seed: DiceSource(), help="a plugin's fixed pattern"
)
"""

USE_FROM_PYTHON = """
from hybridqml.entropy import EntropySettings, EntropyStream, make_source, source_names

print(",".join(source_names(workflows=True)))
print(make_source("dice").read(48).hex())
stream = EntropyStream(settings=EntropySettings(source="dice", mode="pure"), seed=0)
stream.open_epoch(1)
print(stream.read(2048)[-16:].hex(), stream.provenance()["name"])
stream.close()
"""


def _pattern(n: int) -> bytes:
    blocks = (hashlib.sha256(b"dice-%d" % i).digest() for i in range(-(-n // 32)))
    return b"".join(blocks)[:n]


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "dice_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "dice_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dice-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hybridqml.entropy_sources]\ndice = dice_plugin:DICE\n")
    return site


def _run(args: list[str], plugin_path, cwd) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(plugin_path), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_a_plugin_source_is_usable_by_name_from_python(plugin_path, tmp_path):
    done = _run(["-c", USE_FROM_PYTHON], plugin_path, tmp_path)
    assert done.returncode == 0, done.stderr
    names, first, stream_tail = done.stdout.splitlines()
    assert names.split(",") == ["aer", "dice", "os", "prng", "qrng"]  # beside the built-ins
    assert bytes.fromhex(first) == _pattern(48)
    tail, name = stream_tail.split(" ", 1)
    assert bytes.fromhex(tail) == _pattern(2048)[-16:] and name == "dice (plugin)"


def test_a_plugin_source_is_usable_from_the_entropy_command(plugin_path, tmp_path):
    out = tmp_path / "dice.bin"
    cli = ["-c", "import sys; from hybridqml.cli import main; sys.exit(main())", "entropy"]
    sample = [*cli, "sample", "--source", "dice", "--bytes", "5000", "--out", str(out)]
    done = _run(sample, plugin_path, tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == _pattern(5000)
    assert "dice (plugin)" in done.stderr
    done = _run([*cli, "test", "--help"], plugin_path, tmp_path)
    assert "dice: a plugin's fixed pattern" in " ".join(done.stdout.split())


def test_without_the_plugin_the_name_is_unknown(tmp_path):
    done = _run(
        ["-c", "from hybridqml.entropy import make_source; make_source('dice')"], "", tmp_path
    )
    assert done.returncode != 0 and "unknown source 'dice'" in done.stderr


SHADOW_CHECK = """
import warnings
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    from hybridqml.entropy import make_source
    source = make_source("os")
print(type(source).__name__, source.kind)
print(" | ".join(str(w.message) for w in seen))
"""


def test_a_plugin_cannot_replace_a_built_in_source(plugin_path, tmp_path):
    """A plugin declaring ``os`` does not become the OS CSPRNG; it is warned about."""
    site = tmp_path / "shadow"
    info = site / "shadow_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hybridqml.entropy_sources]\nos = dice_plugin:DICE\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), str(plugin_path), env.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        [sys.executable, "-c", SHADOW_CHECK],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    kind_line, warned = done.stdout.splitlines()
    assert kind_line == "OSSource os"
    assert "'os' keeps its first declaration" in warned and "dice_plugin:DICE" in warned
