python benchmarks/backends_benchmark.py
272
