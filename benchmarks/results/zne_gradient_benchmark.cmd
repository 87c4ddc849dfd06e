python benchmarks/zne_gradient_benchmark.py --qubits 2 3 4 5 --batch 8 --repeats 5
