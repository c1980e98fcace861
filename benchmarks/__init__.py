"""Side-by-side measurements of scratchnet against scikit-learn and PyTorch.

``python -m benchmarks.mlp`` times the same multi-layer perceptron in all three libraries;
``python -m benchmarks.cnn`` the ``cnn`` architecture in scratchnet and PyTorch;
``python -m benchmarks.profile_mlp`` splits a scratchnet MLP epoch into its parts. What every
benchmark shares lives in one module per concept: :mod:`benchmarks.machine` (machine and library
facts, busy-machine warning, one thread limit), :mod:`benchmarks.data` (the standardised data),
:mod:`benchmarks.timing` (timers, libraries taking turns), :mod:`benchmarks.flops` (FLOP counts,
the GEMM reference rates), :mod:`benchmarks.memory` (peak RSS in a fresh process),
:mod:`benchmarks.report` (the JSON file, the markdown table) and :mod:`benchmarks.cli` (the
options and the end of every ``main``).
"""
