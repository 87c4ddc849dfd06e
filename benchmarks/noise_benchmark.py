"""Does the noise source matter? Paired multi-seed experiments, whatever they show.

* noisy-mlp: the MNIST MLP whose linear layers add noise to their inputs during training, with
  the noise drawn from Aer Hadamard bits (simulated quantum), the OS CSPRNG, a seeded PRNG, and
  with no noise, over several seeds. Per condition: mean, standard deviation and 95% confidence
  interval of the test accuracy; per pair: a paired t-test (and Wilcoxon signed-rank) of the
  per-seed differences.
* gan: the MNIST GAN with latent vectors from Aer bits vs a seeded PRNG, same seeds: Fréchet
  distance and class coverage after the last epoch, compared the same way.

A seed fixes the initial weights, the data order and dropout; only the noise source differs
within a pair. The printed conclusion is whatever the paired tests say, in each metric's
direction (test accuracy and class coverage: higher is better; Fréchet distance: lower is
better). Significance uses Holm-adjusted p-values; nothing is called significant with fewer than
three seeds (so never in ``--quick`` mode) or when every paired difference is the same (the
t-test is then undefined: "not testable", JSON ``null``).

Usage:
    python benchmarks/noise_benchmark.py [--quick] [--seeds 5] [--mlp-epochs 5]
        [--gan-epochs 10] [--data-dir ../shared/datasets] [--json OUT] [--markdown OUT]
        [--plot OUT.png]
"""

from __future__ import annotations

import dataclasses
import math
import sys
import tempfile
from itertools import combinations
from pathlib import Path

import _common
import torch

from hybridqml.analysis import MIN_SEEDS, compare_paired, holm_adjust, summarize
from hybridqml.workflows import (
    EntropySettings,
    GANConfig,
    NoisyMLPConfig,
    train_gan,
    train_noisy_mlp,
)

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
MLP_CONDITIONS = ("aer", "os", "prng", "none")
GAN_CONDITIONS = ("aer", "prng")


def run_mlp(condition: str, seed: int, args, out: Path) -> float:
    noise = condition != "none"
    result = train_noisy_mlp(
        NoisyMLPConfig(
            out_dir=out / f"mlp-{condition}-{seed}",
            data_dir=args.data_dir,
            dataset=args.dataset,
            epochs=args.mlp_epochs,
            seed=seed,
            noise_std=args.noise_std if noise else 0.0,
            entropy=EntropySettings(source=condition if noise else "prng", mode=args.mode),
            limit_per_class=args.limit_per_class,
            progress=False,
        )
    )
    return result.test_accuracy


def run_gan(condition: str, seed: int, args, out: Path) -> tuple[float, int]:
    result = train_gan(
        GANConfig(
            out_dir=out / f"gan-{condition}-{seed}",
            data_dir=args.data_dir,
            dataset=args.dataset,
            epochs=args.gan_epochs,
            seed=seed,
            entropy=EntropySettings(source=condition, mode=args.mode),
            limit_per_class=args.limit_per_class,
            progress=False,
        )
    )
    return result.frechet_distance, result.class_coverage


def _p(p: float | None) -> str:
    return "not testable" if p is None or math.isnan(p) else f"{p:.3g}"


def _not_significant(status: str) -> str:
    """The table cell of a pair that is not significant, with the reason when it is not p."""
    return "no" if status == "not significant" else f"no ({status})"


def _json_p(p: float | None) -> float | None:
    return None if p is None or math.isnan(p) else p


def section(
    title: str,
    metric: str,
    values: dict[str, list[float]],
    adjusted: dict[tuple, float],
    higher_is_better: bool,
) -> tuple[str, list[dict]]:
    rows = []
    for name, vals in values.items():
        s = summarize(vals)
        rows.append(
            (name, s.n, f"{s.mean:.4f}", f"{s.std:.4f}", f"[{s.ci_low:.4f}, {s.ci_high:.4f}]")
        )
    direction = "higher" if higher_is_better else "lower"
    text = [f"**{title}**: {metric} ({direction} is better)", ""]
    text.append(_common.markdown_table(["condition", "seeds", "mean", "std", "95% CI"], rows))
    text.append("")
    comparisons = []
    pair_rows = []
    for a, b in combinations(values, 2):
        c = compare_paired(
            values[a], values[b], names=(a, b), metric=metric, higher_is_better=higher_is_better
        )
        c = dataclasses.replace(c, adjusted_pvalue=adjusted[(metric, a, b)])
        comparisons.append(
            {
                "metric": metric,
                "higher_is_better": higher_is_better,
                "a": a,
                "b": b,
                "mean_difference": c.difference.mean,
                "ci": [c.difference.ci_low, c.difference.ci_high],
                "t_pvalue": _json_p(c.t_pvalue),
                "holm_adjusted_pvalue": _json_p(c.adjusted_pvalue),
                "wilcoxon_pvalue": _json_p(c.wilcoxon_pvalue),
                "status": c.status,
                "better": c.better,
                "conclusion": c.conclusion(),
            }
        )
        pair_rows.append(
            (
                f"{a} - {b}",
                f"{c.difference.mean:+.4f}",
                f"[{c.difference.ci_low:+.4f}, {c.difference.ci_high:+.4f}]",
                _p(c.t_pvalue),
                _p(c.adjusted_pvalue),
                _p(c.wilcoxon_pvalue),
                "yes" if c.significant else _not_significant(c.status),
            )
        )
    text.append(
        _common.markdown_table(
            [
                "pair",
                "mean diff",
                "95% CI",
                "paired t p",
                "Holm-adjusted p",
                "Wilcoxon p",
                "significant (5%, adjusted)",
            ],
            pair_rows,
        )
    )
    text.append("")
    return "\n".join(text), comparisons


def plot(mlp: dict[str, list[float]], gan: dict[str, list[float]], path: str) -> None:
    panels = [(mlp, "noisy-mlp test accuracy"), (gan, "GAN Fréchet distance (lower is better)")]
    panels = [(v, t) for v, t in panels if v]
    fig, axes = _common.new_figure(len(panels))
    for ax, (values, title) in zip(axes, panels, strict=True):
        names = list(values)
        for i, name in enumerate(names):
            vals = values[name]
            s = summarize(vals)
            ax.scatter([i] * len(vals), vals, color="tab:gray", s=14, zorder=2)
            if s.n > 1:
                ax.errorbar(
                    i,
                    s.mean,
                    yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]],
                    fmt="o",
                    color="tab:red",
                    capsize=6,
                    zorder=3,
                )
        ax.set_xticks(range(len(names)), names)
        ax.set_title(title + " (mean, 95% CI)")
    _common.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--mlp-epochs", type=int, default=5)
    p.add_argument("--gan-epochs", type=int, default=10)
    p.add_argument("--noise-std", type=float, default=0.1)
    p.add_argument("--mode", choices=("pure", "expanded"), default="expanded")
    p.add_argument("--limit-per-class", type=int, default=None)
    p.add_argument("--skip-gan", action="store_true")
    args = p.parse_args(argv)
    args.dataset = "mnist" if Path(args.data_dir).exists() else "digits"
    if args.quick:
        args.seeds, args.mlp_epochs, args.gan_epochs, args.limit_per_class = 2, 1, 1, 40
    torch.set_num_threads(1)
    meta = _common.machine_metadata()
    mlp = {c: [] for c in MLP_CONDITIONS}
    fd = {c: [] for c in GAN_CONDITIONS}
    coverage = {c: [] for c in GAN_CONDITIONS}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for seed in range(args.seeds):
            for condition in MLP_CONDITIONS:
                mlp[condition].append(run_mlp(condition, seed, args, out))
            print(
                f"noisy-mlp seed {seed}: {[round(v[-1], 4) for v in mlp.values()]}", file=sys.stderr
            )
            if not args.skip_gan:
                for condition in GAN_CONDITIONS:
                    f, c = run_gan(condition, seed, args, out)
                    fd[condition].append(f)
                    coverage[condition].append(float(c))
                print(
                    f"gan seed {seed}: FD {[round(v[-1], 2) for v in fd.values()]}", file=sys.stderr
                )
    parts = ["## Does the noise source matter?", ""]
    parts.append(
        f"{args.seeds} seeds per condition, paired by seed; noisy-mlp {args.mlp_epochs} epochs "
        f"(noise std {args.noise_std}, {args.mode} entropy), GAN {args.gan_epochs} epochs; "
        f"data: {args.dataset}"
        + (f", {args.limit_per_class} images per class" if args.limit_per_class else "")
        + ". Aer bits are simulated (pseudo-random inside Aer), labelled so."
    )
    parts.append(
        "Every pairwise comparison below belongs to one family of tests; significance uses "
        "Holm-adjusted p-values so that a 'significant' result is not just the one test in "
        "twenty that passes by chance (the confidence intervals are per comparison, unadjusted). "
        f"Nothing is called significant with fewer than {MIN_SEEDS} seeds, or when every paired "
        "difference is the same (zero variance: the t-test is undefined, shown as 'not "
        "testable' and left out of the Holm family)."
    )
    parts.append("")
    # (title, metric, values, higher_is_better)
    families = [("noisy-mlp", "test accuracy", mlp, True)]
    if not args.skip_gan:
        families += [
            ("gan", "Fréchet distance", fd, False),
            ("gan", "class coverage", coverage, True),
        ]
    keys, raw = [], []
    for _, metric, values, _ in families:
        for a, b in combinations(values, 2):
            keys.append((metric, a, b))
            raw.append(compare_paired(values[a], values[b]).t_pvalue)
    adjusted = dict(zip(keys, holm_adjust(raw), strict=True))
    comparisons = []
    for title, metric, values, higher_is_better in families:
        text, more = section(title, metric, values, adjusted, higher_is_better)
        parts.append(text)
        comparisons += more
    parts.append("Conclusions:")
    parts += [f"- {c['conclusion']}" for c in comparisons]
    parts += ["", _common.metadata_line(meta)]
    report = "\n".join(parts)
    payload = {
        "meta": meta,
        "args": vars(args),
        "noisy_mlp": mlp,
        "gan_frechet": fd,
        "gan_coverage": coverage,
        "comparisons": comparisons,
    }
    _common.emit(args, report, payload)
    if args.plot:
        plot(mlp, {} if args.skip_gan else fd, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
