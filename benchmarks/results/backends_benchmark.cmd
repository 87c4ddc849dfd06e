python benchmarks/backends_benchmark.py
336
