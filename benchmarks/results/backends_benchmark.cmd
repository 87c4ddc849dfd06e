python benchmarks/backends_benchmark.py
2255
