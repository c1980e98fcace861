"""test_time_flip: predictions averaged with the mirror images', the same in every place."""

import numpy as np
import pytest

from scratchnet import NNClassifier
from scratchnet.estimator.model_dir import load_model
from scratchnet.nn.augment import mirror

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 36))  # 6 x 6 "images"
Y = (X[:, :18].sum(axis=1) > X[:, 18:].sum(axis=1)).astype(int)  # not mirror-symmetric
FAST = dict(n_hidden_units=16, activation="relu", optimizer="adam", learning_rate=0.01,
            batch_size=32, epochs=10, random_state=0)


def test_mirror_reverses_each_row_of_pixels():
    rows = np.arange(12).reshape(2, 6)  # two 2 x 3 images
    np.testing.assert_array_equal(mirror(rows, (2, 3)), [[2, 1, 0, 5, 4, 3],
                                                         [8, 7, 6, 11, 10, 9]])
    np.testing.assert_array_equal(mirror(mirror(rows, (2, 3)), (2, 3)), rows)


def test_probabilities_are_the_mean_of_the_image_and_its_mirror():
    plain = NNClassifier(**FAST).fit(X, Y)
    flip = NNClassifier(**FAST, test_time_flip=True).fit(X, Y)  # training is the same
    expected = (plain.predict_proba(X) + plain.predict_proba(mirror(X, (6, 6)))) / 2
    np.testing.assert_array_equal(flip.predict_proba(X), expected)
    np.testing.assert_array_equal(flip.predict(X), flip.classes_[expected.argmax(axis=1)])
    assert flip.score(X, Y) == np.mean(flip.predict(X) == Y)


def test_saved_and_loaded_models_agree_bit_for_bit(tmp_path):
    clf = NNClassifier(**FAST, test_time_flip=True).fit(X, Y)
    clf.save(tmp_path / "m")
    np.testing.assert_array_equal(NNClassifier.load(tmp_path / "m").predict_proba(X),
                                  clf.predict_proba(X))
    model = load_model(tmp_path / "m")  # what the CLI, the server and the exporter use
    assert model.test_time_flip
    np.testing.assert_array_equal(model.predict_proba(X), clf.predict_proba(X))


def test_images_that_are_not_square_are_refused_at_fit():
    with pytest.raises(ValueError, match="test_time_flip=True"):
        NNClassifier(**FAST, test_time_flip=True).fit(X[:, :35], Y)
