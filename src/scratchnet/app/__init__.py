"""The Fashion-MNIST application: data, photos, presets, evaluation, report, the command line."""
