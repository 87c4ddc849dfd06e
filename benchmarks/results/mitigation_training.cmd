python benchmarks/mitigation_benchmark.py --skip-outputs --seeds 0 1 2 3 4 5 6 7 8 9
