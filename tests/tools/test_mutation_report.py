"""tools/mutation/report.py: kill rates from mutmut's results (a tool, not a benchmark)."""

from __future__ import annotations

import importlib.util
import pathlib

REPORT = pathlib.Path(__file__).resolve().parents[2] / "tools" / "mutation" / "report.py"


def _load_report():
    spec = importlib.util.spec_from_file_location("mutation_report", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_equivalents_file_sits_beside_the_report() -> None:
    assert _load_report().EQUIVALENTS.is_file()


def test_mutation_report_counts_raw_and_adjusted_rates(tmp_path, capsys):
    report = _load_report()
    results = tmp_path / "results.txt"
    results.write_text(
        "\n".join(
            [
                "pkg.a.x_f__mutmut_1: killed",
                "pkg.a.x_f__mutmut_2: timeout",
                "pkg.a.x_f__mutmut_3: survived",
                "pkg.a.x_f__mutmut_4: survived",
                "pkg.b.xǁCǁm__mutmut_1: no tests",
                "pkg.b.xǁCǁm__mutmut_2: killed",
                "pkg.b.xǁCǁm__mutmut_3: not checked",  # not counted
            ]
        )
    )
    equivalents = tmp_path / "equivalents.txt"
    equivalents.write_text(
        "# comment\npkg.a.x_f__mutmut_3  # same result\npkg.a.x_f__mutmut_1  # now killed\n"
    )
    assert report.main(str(results), equivalents) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:4]}
    assert rows["pkg.a"] == ["2", "4", "50.0%", "1", "66.7%"]
    assert rows["pkg.b"] == ["1", "2", "50.0%", "0", "50.0%"]
    assert rows["all"] == ["3", "6", "50.0%", "1", "60.0%"]
    assert "pkg.a.x_f__mutmut_4: survived" in out and "pkg.a.x_f__mutmut_3: same result" in out
    assert "stale" in out and out.rstrip().endswith("pkg.a.x_f__mutmut_1")
