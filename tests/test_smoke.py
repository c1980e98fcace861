"""Import smoke test; the real suites live beside it."""

import scratchnet


def test_package_exposes_the_estimator():
    assert scratchnet.NNClassifier().get_params()["n_hidden_units"] == 50
