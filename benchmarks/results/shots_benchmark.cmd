python benchmarks/shots_benchmark.py
134
