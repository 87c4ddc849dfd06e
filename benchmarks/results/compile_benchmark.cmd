python benchmarks/compile_benchmark.py
278
