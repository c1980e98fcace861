"""scratchnet.estimator.training_record: the typed training record and its JSON form."""

import json

from scratchnet.estimator.training_record import Metrics, TrainingRecord


def test_round_trip_through_json():
    record = TrainingRecord(params={"n_hidden_units": (256, 128), "restore_best_weights": False},
                            history={"loss": [1.0, 0.5]}, epochs_run=2, preset="mlp", seed=3,
                            labels=[0, 1], metrics=Metrics(test_accuracy=0.9), created="now")
    doc = json.loads(json.dumps(record.to_json()))
    back = TrainingRecord.from_json(doc)
    assert back.params["n_hidden_units"] == [256, 128]
    assert back.metrics.test_accuracy == 0.9 and back.metrics.training_seconds is None
    assert (back.epochs_run, back.preset, back.seed, back.labels) == (2, "mlp", 3, [0, 1])
    assert not back.restored_best_weights


def test_missing_fields_take_the_defaults_and_unknown_keys_are_ignored():
    back = TrainingRecord.from_json({"format": "scratchnet-model", "metrics": {"new": 1}})
    assert back.preset is None and back.history == {} and back.restored_best_weights
    assert back.metrics == Metrics()


def test_none_fields_are_left_out_of_json():
    assert "preset" not in TrainingRecord().to_json()
