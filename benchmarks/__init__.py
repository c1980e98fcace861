"""Side-by-side measurements of scratchnet against scikit-learn and PyTorch.

``python -m benchmarks.mlp`` times the same multi-layer perceptron in all three libraries;
:mod:`benchmarks.common` holds what every benchmark shares (machine facts, thread limits, data,
timers, the GEMM reference rate, the memory probe, the JSON file and its markdown table).
"""
