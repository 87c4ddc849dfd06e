"""
Entropy sources side by side
============================

Four sources of random bytes through the same use-once, health-tested :class:`EntropyPool`: a
seeded PRNG, the operating system, Hadamard bits measured on noiseless Aer and on a noisy fake IBM
device. Each is labelled by what it is: Aer's bits are **pseudo-random** (Aer's seeded
generator decides every outcome), so they are ``"simulated-quantum"``, never ``"quantum"``; only
real hardware or a QRNG service is. The fake device's bits are biased by its readout error, which
the statistics below show and SHA-256 conditioning removes.

A QRNG service (``QRNGSource(url, token)``) is not shown: this page is built offline.
"""

# %%
# Read 64 kB from each source
# ---------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from hybridqml.entropy import (
    AerHadamardSource,
    EntropyPool,
    OSSource,
    PRNGSource,
    randomness_report,
)

N_BYTES = 65_536
sources = {
    "PRNG (seed 1)": lambda: EntropyPool(PRNGSource(seed=1)),
    "os.urandom": lambda: EntropyPool(OSSource()),
    "Aer Hadamard": lambda: EntropyPool(AerHadamardSource(seed=1)),
    "fake_manila": lambda: EntropyPool(
        AerHadamardSource(backend=FakeManilaV2(), seed=1), claimed_entropy=6.0
    ),
    "fake_manila + SHA-256": lambda: EntropyPool(
        AerHadamardSource(backend=FakeManilaV2(), seed=1),
        claimed_entropy=6.0,
        conditioning="sha256",
    ),
}
rows = {}
for name, open_pool in sources.items():
    with open_pool() as pool:
        start = time.perf_counter()
        data = pool.read(N_BYTES)
        seconds = time.perf_counter() - start
        provenance = pool.provenance()
    rows[name] = (data, seconds, provenance, randomness_report(data))
    report = rows[name][3]
    print(
        f"{name:22s} kind={provenance.kind:18s} {N_BYTES / seconds / 1e6:8.2f} MB/s  "
        f"monobit p={report.monobit_p:.3g}  runs p={report.runs_p:.3g}  "
        f"min-entropy {report.mcv_min_entropy:.2f} bits/byte  alarms={provenance.health_alarms}"
    )

# %%
# The health report
# -----------------
# SP 800-22 p-values (a sample passes at p >= 0.01) and the SP 800-90B most-common-value
# min-entropy estimate per byte (8 is ideal). The raw fake-device bytes fail: readout error makes
# ``1`` read as ``0`` more often than the reverse.
names = list(rows)
tests = ("monobit_p", "block_frequency_p", "runs_p")
CAP = 20  # -log10(p) is drawn up to 20 (p = 1e-20); smaller p-values are marked "off scale"
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
width = 0.25
for i, test in enumerate(tests):
    scores = [-np.log10(max(getattr(rows[n][3], test), 1e-300)) for n in names]
    bars = left.bar(
        np.arange(len(names)) + (i - 1) * width,
        [min(s, CAP) for s in scores],
        width,
        label=test.removesuffix("_p"),
    )
    for bar, score in zip(bars, scores, strict=True):
        if score > CAP:
            left.annotate(
                "off\nscale", (bar.get_x() + width / 2, CAP), ha="center", va="bottom", fontsize=7
            )
left.axhline(2, color="black", linestyle="--", linewidth=1, label="fails above (p < 0.01)")
left.set_ylim(0, CAP + 4)
left.set_xticks(range(len(names)), names, rotation=25, ha="right")
left.set_ylabel("-log10(p-value)")
left.set_title("SP 800-22 tests (lower is better)")
left.legend(fontsize=8, loc="upper left")
right.bar(names, [rows[n][3].mcv_min_entropy for n in names], color="tab:green")
right.set_ylim(0, 8.2)
right.set_ylabel("bits per byte")
right.set_title("MCV min-entropy estimate")
right.tick_params(axis="x", rotation=25)
for label in right.get_xticklabels():
    label.set_horizontalalignment("right")
figure.tight_layout()

# %%
# Bit balance per bit position
# ----------------------------
# The share of ones at each of the 8 bit positions of a byte. The fake device's bytes lean
# towards 0 because its qubits' readout errors are asymmetric.
figure, axes = plt.subplots(figsize=(6, 3.5))
for name in names:
    bits = np.unpackbits(np.frombuffer(rows[name][0], dtype=np.uint8)).reshape(-1, 8)
    axes.plot(range(8), bits.mean(axis=0), marker="o", label=name)
axes.axhline(0.5, color="black", linewidth=0.8)
axes.set_xlabel("bit position in byte")
axes.set_ylabel("share of ones")
axes.legend(fontsize=8)
figure.tight_layout()
