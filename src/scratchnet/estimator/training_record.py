"""What a model directory says about how its model was trained, as one typed record.

``train_preset`` (and ``sweep``) write it, the CLI, the evaluation, the report, the server and
the ONNX exporter read it. It travels in ``model.json`` next to the architecture and weights
(:mod:`scratchnet.estimator.model_dir` checks it); :meth:`TrainingRecord.to_json` and
:meth:`TrainingRecord.from_json` are the one place that turns it into JSON and back, and the
defaults below the one place that says what a missing field means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class Metrics:
    """Final figures of a run; ``None`` where not measured."""

    test_accuracy: float | None = None
    train_accuracy: float | None = None
    best_validation_accuracy: float | None = None
    training_seconds: float | None = None


@dataclass
class TrainingRecord:
    """How a model was trained.

    ``params`` are the estimator's parameters, ``history`` its per-epoch lists
    (:class:`scratchnet.nn.training.History`), ``labels`` the dataset label of each class,
    ``environment`` the BLAS threads and library versions (bit-identical retraining needs the
    same), ``created`` a local ``YYYY-MM-DD HH:MM:SS`` time.
    """

    params: dict = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_run: int = 0
    metrics: Metrics = field(default_factory=Metrics)
    preset: str | None = None
    seed: int | None = None
    labels: list[int] | None = None
    n_train: int | None = None
    n_validation: int | None = None
    created: str | None = None
    environment: dict | None = None
    sweep: dict | None = None  # the search summary, for a model chosen by `scratchnet sweep`

    @property
    def restored_best_weights(self) -> bool:
        """Whether the weights kept are those of the best validation epoch (the estimator's
        ``restore_best_weights``, True unless the parameters say otherwise)."""
        return bool(self.params.get("restore_best_weights", True))

    def to_json(self) -> dict:
        """A JSON-able dict, ``None`` fields left out; tuples become lists."""
        doc = {k: v for k, v in asdict(self).items() if v is not None}
        doc["params"] = {k: list(v) if isinstance(v, tuple) else v
                         for k, v in self.params.items()}
        return doc

    @classmethod
    def from_json(cls, doc: dict) -> TrainingRecord:
        """Read the fields this class knows from a ``model.json`` document; others are ignored
        (a newer writer's additions, or the model directory's own keys)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known and v is not None}
        metric_names = {f.name for f in fields(Metrics)}
        values["metrics"] = Metrics(**{k: v for k, v in (doc.get("metrics") or {}).items()
                                       if k in metric_names})
        return cls(**values)
