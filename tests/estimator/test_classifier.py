"""NNClassifier: scikit-learn's estimator checks and our own behaviour."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from scratchnet import NNClassifier
from scratchnet.nn.callbacks import StopWhen
from scratchnet.nn.layers import Dropout

X, Y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3,
                           random_state=0)
X_TRAIN, X_TEST, Y_TRAIN, Y_TEST = X[:200], X[200:], Y[:200], Y[200:]
# A quick, reliable configuration for tests that are not about the defaults.
FAST = dict(n_hidden_units=16, activation="relu", optimizer="adam", learning_rate=0.01,
            batch_size=32, epochs=15, random_seed=0)


# --- scikit-learn's own checks -----------------------------------------------------------------
# The defaults, as scikit-learn users get them (the checks seed random_state themselves), and
# no expected failures: an integer weight is the repeated row (estimator/canonical_rows.py).
@parametrize_with_checks([NNClassifier(), NNClassifier(dtype="float64")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_default_parameters_fit_and_predict():
    clf = NNClassifier()
    assert clf.get_params() == {
        "n_classes": None, "n_features": None, "n_hidden_units": 50, "l2": 0.0, "l1": 0.0,
        "epochs": 100, "learning_rate": 0.001, "n_batches": 25, "random_seed": None,
        "random_state": None, "clip_norm": None, "class_weight": None, "warm_start": False,
        "activation": "sigmoid", "optimizer": "sgd", "batch_size": None, "shuffle": True,
        "dropout": 0.0, "early_stopping": False, "validation_fraction": 0.1,
        "n_iter_no_change": 10, "restore_best_weights": True, "lr_schedule": None,
        "architecture": "mlp", "augment": False, "weight_decay": 0.0, "init": "auto",
        "dtype": "float32", "label_smoothing": 0.0, "test_time_flip": False,
        "verbose": False,
    }
    clf.fit(X_TRAIN, Y_TRAIN)
    assert clf.n_iter_ == 100
    assert clf.score(X_TEST, Y_TEST) > 0.7


# --- labels, seeds, validation -----------------------------------------------------------------
def test_string_labels():
    names = np.array(["cat", "dog", "bird"])
    clf = NNClassifier(**FAST).fit(X_TRAIN, names[Y_TRAIN])
    np.testing.assert_array_equal(clf.classes_, ["bird", "cat", "dog"])
    pred = clf.predict(X_TEST)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    proba = clf.predict_proba(X_TEST)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)
    assert clf.score(X_TEST, names[Y_TEST]) > 0.7


def test_same_seed_same_weights_and_different_seed_different_weights():
    a = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN).network_.state_dict()
    b = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN).network_.state_dict()
    c = NNClassifier(**{**FAST, "random_seed": 1}).fit(X_TRAIN, Y_TRAIN).network_.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["0.weight"], c["0.weight"])


def test_refit_with_the_same_seed_starts_over():
    clf = NNClassifier(**FAST)
    first = clf.fit(X_TRAIN, Y_TRAIN).predict_proba(X_TEST)
    np.testing.assert_array_equal(clf.fit(X_TRAIN, Y_TRAIN).predict_proba(X_TEST), first)


def test_n_classes_mismatch_is_an_error():
    with pytest.raises(ValueError, match="y has 3 classes, but n_classes=4"):
        NNClassifier(n_classes=4, **FAST).fit(X_TRAIN, Y_TRAIN)
    assert NNClassifier(n_classes=3, **FAST).fit(X_TRAIN, Y_TRAIN).n_iter_ == 15


def test_n_features_mismatch_is_an_error():
    with pytest.raises(ValueError, match="X has 8 features, but n_features=784"):
        NNClassifier(n_features=784, **FAST).fit(X_TRAIN, Y_TRAIN)
    clf = NNClassifier(n_features=8, **FAST).fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="X has 7 features"):
        clf.predict(X_TEST[:, :7])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_an_error(bad):
    X_bad = X_TRAIN.copy()
    X_bad[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        NNClassifier(**FAST).fit(X_bad, Y_TRAIN)
    clf = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="NaN|infinity"):
        clf.predict(X_bad)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match="0 sample"):
        NNClassifier(**FAST).fit(np.empty((0, 8)), np.empty(0))


def test_one_class_is_an_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        NNClassifier(**FAST).fit(X_TRAIN, np.zeros(200, dtype=int))


@pytest.mark.parametrize("params", [
    {"activation": "swish"}, {"optimizer": "lbfgs"}, {"epochs": 0}, {"learning_rate": 0.0},
    {"dropout": 1.0}, {"n_classes": 1}, {"lr_schedule": "linear"}, {"dtype": "float16"},
    {"validation_fraction": 1.0}, {"n_hidden_units": 0}, {"init": "zeros"},
    {"epochs": 10**20}, {"clip_norm": 0.0}, {"learning_rate": float("nan")},
])
def test_invalid_parameters_are_rejected_in_fit(params):
    clf = NNClassifier(**params)  # __init__ only stores
    with pytest.raises(ValueError, match="NNClassifier: .* is invalid; use "):
        clf.fit(X_TRAIN, Y_TRAIN)


@pytest.mark.parametrize("sizes", [(16, 0), (8, -2), (4.5,)])
def test_bad_hidden_sizes_are_rejected(sizes):
    with pytest.raises(ValueError, match="n_hidden_units"):
        NNClassifier(n_hidden_units=sizes).fit(X_TRAIN, Y_TRAIN)


def test_predict_before_fit_is_not_fitted_error():
    from sklearn.exceptions import NotFittedError

    for method in ("predict", "predict_proba", "predict_log_proba", "hidden_representation"):
        with pytest.raises(NotFittedError):
            getattr(NNClassifier(), method)(X_TEST)


# --- composition with scikit-learn ---------------------------------------------------------------
def test_works_in_a_pipeline():
    pipe = make_pipeline(StandardScaler(), NNClassifier(**FAST)).fit(X_TRAIN * 50 + 3, Y_TRAIN)
    assert pipe.score(X_TEST * 50 + 3, Y_TEST) > 0.7


def test_works_in_grid_search():
    search = GridSearchCV(NNClassifier(**{**FAST, "epochs": 5}),
                          {"n_hidden_units": [4, (8, 4)], "learning_rate": [0.01, 0.02]}, cv=2)
    search.fit(X_TRAIN, Y_TRAIN)
    assert search.best_params_["n_hidden_units"] in (4, (8, 4))
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert search.score(X_TEST, Y_TEST) > 0.5


# --- partial_fit -------------------------------------------------------------------------------
def test_partial_fit_runs_one_epoch_per_call():
    clf = NNClassifier(**FAST)
    for calls in range(1, 4):
        clf.partial_fit(X_TRAIN, Y_TRAIN)
        assert clf.n_iter_ == calls
        assert len(clf.loss_curve_) == len(clf.error_) == calls
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_partial_fit_takes_all_classes_on_the_first_call():
    clf = NNClassifier(**FAST)
    first = Y_TRAIN < 2
    clf.partial_fit(X_TRAIN[first], Y_TRAIN[first], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict_proba(X_TEST).shape == (100, 3)
    clf.partial_fit(X_TRAIN[~first], Y_TRAIN[~first])  # the third class arrives later
    assert clf.n_iter_ == 2


def test_partial_fit_rejects_new_classes_and_labels():
    clf = NNClassifier(**FAST).partial_fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="differs from the classes of the first call"):
        clf.partial_fit(X_TRAIN, Y_TRAIN, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X_TRAIN, Y_TRAIN + 1)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X_TRAIN[:, :5], Y_TRAIN)


def test_partial_fit_continues_from_fit():
    clf = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    before = clf.network_.state_dict()
    clf.partial_fit(X_TRAIN, Y_TRAIN)
    assert clf.n_iter_ == FAST["epochs"] + 1
    assert not np.array_equal(clf.network_.state_dict()["0.weight"], before["0.weight"])


@pytest.mark.parametrize("roundtrip", [lambda c: pickle.loads(pickle.dumps(c)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_a_copied_classifier_predicts_the_same_and_keeps_learning(roundtrip):
    clf = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    other = roundtrip(clf)
    np.testing.assert_array_equal(other.predict_proba(X_TEST), clf.predict_proba(X_TEST))
    before = other.network_.state_dict()
    other.partial_fit(X_TRAIN, Y_TRAIN)
    after = other.network_.state_dict()
    assert all(not np.array_equal(after[k], before[k]) for k in before)
    np.testing.assert_array_equal(clf.network_.state_dict()["0.weight"], before["0.weight"])


# --- training options --------------------------------------------------------------------------
def test_batch_size_wins_over_n_batches():
    clf = NNClassifier(**{**FAST, "epochs": 3, "batch_size": 64}, n_batches=2)
    clf.fit(X_TRAIN, Y_TRAIN)
    assert clf.trainer_.optimizer.t == 3 * 4  # ceil(200 / 64) batches per epoch, not 2
    clf = NNClassifier(**{**FAST, "epochs": 3, "batch_size": None}, n_batches=7)
    clf.fit(X_TRAIN, Y_TRAIN)
    assert clf.trainer_.optimizer.t == 3 * 7


LEARNING_RATES = {"sgd": 0.01, "momentum": 0.002, "nesterov": 0.002, "adam": 0.01,
                  "rmsprop": 0.01, "adagrad": 0.1}
X_WIDE, Y_WIDE = make_classification(n_samples=600, n_features=20, n_informative=8,
                                     n_classes=3, class_sep=1.5, random_state=0)


@pytest.mark.parametrize("optimizer", LEARNING_RATES)
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_every_activation_and_optimizer_learns(activation, optimizer):
    clf = NNClassifier(n_hidden_units=16, activation=activation, optimizer=optimizer,
                       learning_rate=LEARNING_RATES[optimizer], epochs=20, batch_size=32,
                       random_seed=0)
    clf.fit(X_WIDE[:400], Y_WIDE[:400])
    assert clf.score(X_WIDE[400:], Y_WIDE[400:]) > 0.8  # chance is 1/3
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]


@pytest.mark.parametrize("schedule", [None, "step", "exponential", "cosine"])
@pytest.mark.parametrize("init", ["auto", "uniform", "glorot", "he"])
def test_every_schedule_and_initialiser_learns(schedule, init):
    clf = NNClassifier(**{**FAST, "activation": "tanh"}, lr_schedule=schedule, init=init)
    assert clf.fit(X_TRAIN, Y_TRAIN).score(X_TEST, Y_TEST) > 0.7


def test_cosine_schedule_anneals_over_the_epochs():
    clf = NNClassifier(**FAST, lr_schedule="cosine").fit(X_TRAIN, Y_TRAIN)
    opt = clf.trainer_.optimizer
    last = FAST["epochs"] - 1
    assert opt.lr == pytest.approx(0.01 * (1 + np.cos(np.pi * last / FAST["epochs"])) / 2)


def test_l1_and_l2_shrink_the_weights():
    plain = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    l2 = NNClassifier(**FAST, l2=5.0).fit(X_TRAIN, Y_TRAIN)
    l1 = NNClassifier(**FAST, l1=1.0).fit(X_TRAIN, Y_TRAIN)

    def norm(clf):
        return sum(np.abs(w).sum() for w, _ in clf.network_.weights())

    assert norm(l2) < 0.8 * norm(plain) and norm(l1) < 0.8 * norm(plain)
    # error_ holds the penalised cost, loss_curve_ the plain mean loss.
    assert l2.error_[-1] > l2.loss_curve_[-1] * X_TRAIN.shape[0]


def test_dropout_layers_train_and_inference_is_deterministic():
    clf = NNClassifier(**{**FAST, "n_hidden_units": (32, 16)}, dropout=0.3).fit(X_TRAIN, Y_TRAIN)
    assert sum(isinstance(layer, Dropout) for layer in clf.network_.layers) == 2
    np.testing.assert_array_equal(clf.predict_proba(X_TEST), clf.predict_proba(X_TEST))
    assert clf.score(X_TEST, Y_TEST) > 0.7
    assert not any(isinstance(layer, Dropout)
                   for layer in NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN).network_.layers)


def test_early_stopping_stops_early_and_keeps_the_best_score():
    clf = NNClassifier(**{**FAST, "epochs": 500}, early_stopping=True, n_iter_no_change=3)
    clf.fit(X_TRAIN, Y_TRAIN)
    assert clf.n_iter_ < 500
    assert len(clf.history_["val_accuracy"]) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.history_["val_accuracy"])
    # It stopped n_iter_no_change epochs after the best one.
    best_epoch = int(np.argmax(clf.history_["val_accuracy"]))
    assert clf.n_iter_ == best_epoch + 1 + 3


def test_no_validation_means_no_best_score():
    clf = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    assert clf.best_validation_score_ is None and clf.history_["val_accuracy"] == []


def test_validation_data_keeps_the_best_weights():
    # A large step, so that validation accuracy peaks before the last epoch.
    clf = NNClassifier(**{**FAST, "epochs": 12, "learning_rate": 0.2})
    clf.fit(X_TRAIN, Y_TRAIN, validation_data=(X_TEST, Y_TEST))
    assert clf.n_iter_ == 12 and len(clf.history_["val_loss"]) == 12
    assert clf.history_["val_accuracy"][-1] < clf.best_validation_score_
    assert clf.score(X_TEST, Y_TEST) == pytest.approx(clf.best_validation_score_)
    assert clf.best_validation_score_ == max(clf.history_["val_accuracy"])


def test_restore_best_weights_false_keeps_the_last_epoch():
    params = {**FAST, "epochs": 12, "learning_rate": 0.2, "restore_best_weights": False}
    clf = NNClassifier(**params).fit(X_TRAIN, Y_TRAIN, validation_data=(X_TEST, Y_TEST))
    assert clf.history_["val_accuracy"][-1] < clf.best_validation_score_
    assert clf.score(X_TEST, Y_TEST) == pytest.approx(clf.history_["val_accuracy"][-1])


def test_should_stop_ends_fit_after_a_batch():
    clf = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN, callbacks=[StopWhen(lambda: True)])
    assert clf.n_iter_ == 1 and clf.trainer_.optimizer.t == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_sets_the_parameters_precision(dtype):
    clf = NNClassifier(**FAST, dtype=dtype).fit(X_TRAIN.astype(np.float32), Y_TRAIN)
    assert all(p.dtype == np.dtype(dtype) for _, p, _ in clf.network_.named_parameters())
    proba = clf.predict_proba(X_TEST)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X_TEST), np.log(proba), rtol=1e-12)


def test_float32_predictions_barely_depend_on_the_batch():
    clf = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    full = clf.predict_proba(X_TEST[:20])
    rows = np.vstack([clf.predict_proba(x[None]) for x in X_TEST[:20]])
    np.testing.assert_allclose(rows, full, rtol=1e-5, atol=1e-7)
    reverse = clf.predict_proba(X_TEST[:20][::-1])
    np.testing.assert_allclose(reverse, full[::-1], rtol=1e-5, atol=1e-7)


def test_fitted_attributes_have_one_entry_per_epoch():
    clf = NNClassifier(**{**FAST, "epochs": 7}, l2=0.1).fit(X_TRAIN, Y_TRAIN)
    assert clf.n_iter_ == 7
    assert len(clf.error_) == len(clf.loss_curve_) == 7
    for key in ("loss", "accuracy", "seconds"):
        assert len(clf.history_[key]) == 7
    assert clf.history_["loss"] == clf.loss_curve_
    assert clf.n_features_in_ == 8
    assert all(np.isfinite(clf.error_)) and all(e > 0 for e in clf.error_)


@pytest.mark.parametrize("hidden, width", [(16, 16), ((12, 5), 5), ((), 8)])
def test_hidden_sizes_and_hidden_representation(hidden, width):
    clf = NNClassifier(**{**FAST, "n_hidden_units": hidden}).fit(X_TRAIN, Y_TRAIN)
    assert clf.hidden_representation(X_TEST).shape == (100, width)
    assert sum(type(layer).__name__ == "Dense" for layer in clf.network_.layers) == \
        len(np.atleast_1d(hidden)) + 1


def test_verbose_shows_progress(capsys):
    NNClassifier(**{**FAST, "epochs": 2}, verbose=True).fit(X_TRAIN, Y_TRAIN)
    assert "batch" in capsys.readouterr().err


def test_divergence_is_reported():
    clf = NNClassifier(learning_rate=1e6, activation="relu", epochs=5, random_seed=0)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="diverged"):
        clf.fit(X_TRAIN * 1e3, Y_TRAIN)


# --- real data ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fashion_subset(fashion_mnist_test):
    X_img, y = fashion_mnist_test
    return X_img[:2000].astype(np.float32) / 255.0, y[:2000]


def test_the_tutorials_network_learns_fashion_mnist(fashion_subset):
    X_img, y = fashion_subset
    # The tutorial's own call, with fewer epochs.
    clf = NNClassifier(n_classes=10, n_features=784, n_hidden_units=50, l2=0.5, l1=0.0,
                       epochs=30, learning_rate=0.001, n_batches=25, random_seed=1)
    clf.fit(X_img[:1500], y[:1500])
    assert clf.score(X_img[1500:], y[1500:]) > 0.7  # chance is 0.1


def test_a_relu_adam_mlp_learns_fashion_mnist(fashion_subset):
    X_img, y = fashion_subset
    clf = NNClassifier(n_hidden_units=64, activation="relu", optimizer="adam",
                       learning_rate=0.002, batch_size=64, epochs=10, random_seed=0)
    clf.fit(X_img[:1500], y[:1500])
    assert clf.score(X_img[1500:], y[1500:]) > 0.78


def test_cnn_architecture_with_augmentation_and_weight_decay():
    from scratchnet.nn.layers import Conv2D

    rng = np.random.default_rng(0)
    X = rng.random((120, 64)).astype(np.float32)  # 8x8 "images"
    y = (X[:, :32].sum(axis=1) > X[:, 32:].sum(axis=1)).astype(int)
    clf = NNClassifier(architecture="cnn", optimizer="adam", batch_size=32, epochs=3,
                       augment=True, weight_decay=1e-3, random_seed=0).fit(X, y)
    assert any(isinstance(layer, Conv2D) for layer in clf.network_.layers)
    assert clf.predict_proba(X).shape == (120, 2)
    assert clf.trainer_.augment is not None and clf.trainer_.optimizer.weight_decay == 1e-3


@pytest.mark.parametrize("params", [{"architecture": "cnn"}, {"augment": True}])
def test_image_options_need_square_images(params):
    X = np.random.default_rng(0).random((20, 10))
    with pytest.raises(ValueError, match="square"):
        NNClassifier(epochs=1, **params).fit(X, np.arange(20) % 2)


def test_every_documented_init_is_accepted():
    from scratchnet.estimator.params import INIT_CHOICES

    doc = NNClassifier.__doc__
    line = next(row for row in doc.splitlines() if row.strip().startswith("init :"))
    for name in INIT_CHOICES:
        assert f'"{name}"' in line
        NNClassifier(init=name, **{**FAST, "epochs": 1}).fit(X_TRAIN, Y_TRAIN)


def test_random_seed_and_random_state_are_one_seed():
    a = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN).network_.state_dict()
    fast = {k: v for k, v in FAST.items() if k != "random_seed"}
    b = NNClassifier(random_state=0, **fast).fit(X_TRAIN, Y_TRAIN).network_.state_dict()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    with pytest.raises(ValueError, match="random_seed=0 and random_state=1 disagree"):
        NNClassifier(random_seed=0, random_state=1, **fast).fit(X_TRAIN, Y_TRAIN)


def test_divergence_keeps_no_nan_weights():
    clf = NNClassifier(learning_rate=1e6, activation="relu", epochs=5, random_seed=0)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="diverged"):
        clf.fit(X_TRAIN * 100, Y_TRAIN)
    if hasattr(clf, "network_"):
        for value in clf.network_.state_dict().values():
            assert np.isfinite(value).all()
    else:
        with pytest.raises(NotFittedError):
            clf.predict(X_TEST)


def test_integer_weights_are_repeated_rows_bit_for_bit():
    """Mini-batches, float32, shuffled weighted rows: a weight of k is k copies of the row."""
    rng = np.random.default_rng(0)
    w = rng.integers(0, 4, size=X_TRAIN.shape[0])
    perm = rng.permutation(X_TRAIN.shape[0])
    weighted = NNClassifier(**FAST).fit(X_TRAIN[perm], Y_TRAIN[perm], sample_weight=w[perm])
    repeated = NNClassifier(**FAST).fit(np.repeat(X_TRAIN, w, axis=0), np.repeat(Y_TRAIN, w))
    np.testing.assert_array_equal(weighted.predict_proba(X_TEST), repeated.predict_proba(X_TEST))


def test_row_order_does_not_change_the_model():
    perm = np.random.default_rng(1).permutation(X_TRAIN.shape[0])
    a = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN)
    b = NNClassifier(**FAST).fit(X_TRAIN[perm], Y_TRAIN[perm])
    np.testing.assert_array_equal(a.predict_proba(X_TEST), b.predict_proba(X_TEST))


def test_zero_weight_is_the_row_removed():
    w = np.ones(X_TRAIN.shape[0])
    w[::3] = 0
    a = NNClassifier(**FAST).fit(X_TRAIN, Y_TRAIN, sample_weight=w)
    b = NNClassifier(**FAST).fit(X_TRAIN[w > 0], Y_TRAIN[w > 0])
    np.testing.assert_array_equal(a.predict_proba(X_TEST), b.predict_proba(X_TEST))


def test_balanced_class_weight_equals_its_sample_weights():
    from sklearn.utils.class_weight import compute_sample_weight

    y = np.where(Y_TRAIN == 2, 2, Y_TRAIN % 2)  # unbalanced
    a = NNClassifier(**FAST, class_weight="balanced").fit(X_TRAIN, y)
    b = NNClassifier(**FAST).fit(X_TRAIN, y, sample_weight=compute_sample_weight("balanced", y))
    np.testing.assert_allclose(a.predict_proba(X_TEST), b.predict_proba(X_TEST), rtol=1e-6)
    c = NNClassifier(**FAST, class_weight={0: 1.0, 1: 1.0, 2: 1.0}).fit(X_TRAIN, y)
    d = NNClassifier(**FAST).fit(X_TRAIN, y)
    np.testing.assert_array_equal(c.predict_proba(X_TEST), d.predict_proba(X_TEST))


def test_warm_start_continues_from_the_current_weights():
    clf = NNClassifier(**{**FAST, "epochs": 3}, warm_start=True).fit(X_TRAIN, Y_TRAIN)
    first = clf.network_.state_dict()
    clf.fit(X_TRAIN, Y_TRAIN)
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    cold = NNClassifier(**{**FAST, "epochs": 3}).fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(cold.network_.state_dict()["0.weight"], first["0.weight"])
    assert not np.array_equal(clf.network_.state_dict()["0.weight"], first["0.weight"])


def test_convergence_warning_when_epochs_run_out_while_the_loss_falls():
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="still falling"):
        NNClassifier(n_hidden_units=8, epochs=15, n_iter_no_change=5, random_state=0).fit(
            X_TRAIN, Y_TRAIN)


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_no_convergence_warning_when_the_schedule_anneals_to_zero(schedule):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        NNClassifier(n_hidden_units=8, epochs=15, n_iter_no_change=5, random_state=0,
                     lr_schedule=schedule).fit(X_TRAIN, Y_TRAIN)


def test_mlp_classifier_attributes():
    clf = NNClassifier(**FAST, early_stopping=True).fit(X_TRAIN, Y_TRAIN)
    assert [c.shape for c in clf.coefs_] == [(8, 16), (16, 3)]
    assert [b.shape for b in clf.intercepts_] == [(16,), (3,)]
    assert np.shares_memory(clf.coefs_[0], clf.network_.layers[0].params["weight"])
    assert clf.n_layers_ == 3 and clf.n_outputs_ == 3
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert len(clf.validation_scores_) == clf.n_iter_


def test_label_smoothing_reaches_the_loss_and_is_validated():
    clf = NNClassifier(**FAST, label_smoothing=0.1).fit(X_TRAIN, Y_TRAIN)
    assert clf.trainer_.loss.label_smoothing == 0.1
    assert clf.score(X_TEST, Y_TEST) > 0.7
    with pytest.raises(ValueError, match="label_smoothing=1.0 is invalid"):
        NNClassifier(label_smoothing=1.0).fit(X_TRAIN, Y_TRAIN)


def test_one_cycle_schedule_by_name():
    clf = NNClassifier(**{**FAST, "lr_schedule": "onecycle"}).fit(X_TRAIN, Y_TRAIN)
    assert clf.history_["lr"][-1] < clf.learning_rate / FAST["epochs"]
    assert clf.score(X_TEST, Y_TEST) > 0.7
