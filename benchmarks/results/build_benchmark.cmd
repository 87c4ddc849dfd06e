python benchmarks/build_benchmark.py --qubits 16 20 24 --repeats 3
