python benchmarks/peers_benchmark.py
192
