python benchmarks/layer_benchmark.py
447
