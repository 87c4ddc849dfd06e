python benchmarks/entropy_benchmark.py
36
