python benchmarks/peers_benchmark.py
2389
