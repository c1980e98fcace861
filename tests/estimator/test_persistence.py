"""NNClassifier.save / NNClassifier.load: a model directory instead of pickle."""

import json

import numpy as np
import pytest
from sklearn.datasets import make_classification

from scratchnet import NNClassifier
from scratchnet.estimator.model_dir import ModelFileError, load_model

X, Y = make_classification(n_samples=240, n_features=12, n_informative=6, n_classes=3,
                           random_state=0)
FAST = dict(n_hidden_units=(16, 8), activation="relu", optimizer="adam", learning_rate=0.01,
            batch_size=32, epochs=5, random_state=0)


@pytest.mark.parametrize("labels", [np.array([3, 7, 11]), np.array(["cat", "dog", "bird"])])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_identical(tmp_path, labels, dtype):
    clf = NNClassifier(**FAST, dtype=dtype).fit(X, labels[Y])
    clf.save(tmp_path / "m")
    back = NNClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    assert back.get_params() == clf.get_params()
    assert back.n_iter_ == clf.n_iter_ and back.loss_curve_ == clf.loss_curve_


def test_a_loaded_estimator_keeps_learning(tmp_path):
    clf = NNClassifier(**FAST).fit(X, Y)
    clf.save(tmp_path / "m")
    back = NNClassifier.load(tmp_path / "m").partial_fit(X, Y)
    assert back.n_iter_ == clf.n_iter_ + 1


def test_a_tampered_directory_is_refused_in_one_line(tmp_path):
    NNClassifier(**FAST).fit(X, Y).save(tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    weights = tmp_path / "m" / doc["weights"]["file"]
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(ModelFileError) as info:
        NNClassifier.load(tmp_path / "m")
    assert "\n" not in str(info.value)


def test_labels_that_cannot_be_saved_are_refused(tmp_path):
    clf = NNClassifier(**FAST).fit(X, Y - 1)  # -1, 0, 1
    with pytest.raises(ValueError, match="non-negative integers or strings"):
        clf.save(tmp_path / "m")


def test_unfitted_estimator_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NNClassifier().save(tmp_path / "m")


def test_a_cli_trained_directory_loads_and_agrees_with_predict(tmp_path, fashion_mnist_test):
    from scratchnet.app.experiment import train_preset
    from scratchnet.estimator.model_dir import save_model

    save_model(train_preset("mlp", epochs=1, limit=2000), tmp_path / "cli")
    X_test, _ = fashion_mnist_test
    model = load_model(tmp_path / "cli")
    clf = NNClassifier.load(tmp_path / "cli")
    np.testing.assert_array_equal(clf.predict_proba(X_test[:3000]),
                                  model.predict_proba(X_test[:3000]))
    assert list(clf.classes_) == list(range(10))


class _InterruptAfter:
    """A callback that records the training state after epoch ``k`` and then stops the run,
    as a checkpoint followed by a kill would."""

    def __init__(self, k):
        from scratchnet.nn.callbacks import Callback

        outer = self

        class _Cb(Callback):
            def on_epoch_end(self, trainer, history):
                if history.n_epochs == k:
                    outer.state = trainer.state()
                    return True
                return False

        self.callback = _Cb()
        self.state = None


@pytest.mark.parametrize("params", [
    dict(FAST, dropout=0.2, lr_schedule="cosine", epochs=6),
    dict(FAST, optimizer="nesterov", learning_rate=0.01, epochs=5, early_stopping=True,
         n_iter_no_change=50),
])
def test_resume_ends_bit_identical_to_an_uninterrupted_run(params):
    from scratchnet.nn.callbacks import Callback

    class _Noop(Callback):  # stands where the interrupting callback stood
        pass

    whole = NNClassifier(**params).fit(X, Y, callbacks=[_Noop()])
    stop = _InterruptAfter(2)
    first = NNClassifier(**params).fit(X, Y, callbacks=[stop.callback])
    assert first.n_iter_ == 2
    resumed = NNClassifier(**params).fit(X, Y, callbacks=[_Noop()], resume=stop.state)
    assert resumed.n_iter_ == whole.n_iter_
    for name, value in whole.network_.state_dict().items():
        np.testing.assert_array_equal(resumed.network_.state_dict()[name], value)
    assert resumed.loss_curve_[2:] == whole.loss_curve_[2:]
