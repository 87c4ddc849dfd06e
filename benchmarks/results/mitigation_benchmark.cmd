python benchmarks/mitigation_benchmark.py --modes none readout
1833
