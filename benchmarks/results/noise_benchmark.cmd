python benchmarks/noise_benchmark.py
509
