"""The scikit-learn face: :class:`NNClassifier` and the model directory it is saved to.

``classifier`` imports scikit-learn; ``model_dir`` (the file format) and ``atomic`` do not, so the
application can read a model without loading scikit-learn's estimator machinery.
"""
