python benchmarks/distributed_benchmark.py
434
