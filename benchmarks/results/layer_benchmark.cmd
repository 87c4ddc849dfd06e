python benchmarks/layer_benchmark.py
449
