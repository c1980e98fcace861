"""The sweep file: a small TOML file saying what to search, parsed and checked before any work.

::

    [search]
    kind = "grid"              # "grid" (every combination) or "random" (n_candidates draws)
    folds = 3                  # stratified k-fold cross-validation, shuffled with `seed`...
    # validation_fraction = 0.2  # ...or one stratified train/validation split instead
    scoring = "accuracy"       # a scikit-learn scorer name (see SCORINGS)
    # n_candidates = 8         # random search only (default 10)
    seed = 0                   # the folds, the random draws and every network's weights
                               # (unless [fixed] or [params] set NNClassifier's own seed)

    [data]
    limit = 10000              # the first N Fashion-MNIST training images (default: all 60,000)

    [fixed]                    # NNClassifier parameters shared by every candidate
    activation = "relu"
    epochs = 5

    [params]                   # swept NNClassifier parameters: a list of values each...
    learning_rate = [0.0003, 0.001, 0.003]
    n_hidden_units = [[128], [256, 128]]    # a list inside the list is one value (a tuple)
    # ...or, for random search, a distribution (randint includes `high`):
    # learning_rate = { distribution = "loguniform", low = 1e-4, high = 1e-2 }

Every name and value is checked here, so a typo costs one line on the terminal instead of a
cluster's worth of failed fits: unknown tables and keys are named with the allowed ones, and each
parameter value, with the ``[fixed]`` ones, goes through ``NNClassifier``'s own parameter
validation (:func:`scratchnet.estimator.params.validate_params`, what ``fit`` runs first),
whose message, naming the allowed values, is the one shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from scratchnet.estimator.classifier import NNClassifier
from scratchnet.estimator.params import validate_params

KINDS = ("grid", "random")
DISTRIBUTIONS = ("loguniform", "uniform", "randint")
# Scorers that make sense for a multi-class classifier with predict_proba.
SCORINGS = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_micro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
    "neg_log_loss",
    "roc_auc_ovr",
    "roc_auc_ovo",
    "matthews_corrcoef",
)
TABLES = {
    "search": ("kind", "folds", "validation_fraction", "scoring", "n_candidates", "seed"),
    "data": ("limit",),
    "fixed": None,
    "params": None,
}
# Progress bars from several workers would interleave on one terminal.
NOT_SETTABLE = ("verbose",)


class SweepConfigError(ValueError):
    """The sweep file is missing, not TOML, or names an unknown key or an invalid value."""


# The one place that knows the seed's names: scikit-learn's first, then the tutorial's.
SEED_NAMES = ("random_state", "random_seed")


def seed_parameter() -> str:
    """The seed parameter ``NNClassifier`` has (scikit-learn's name when it has both)."""
    names = NNClassifier().get_params()
    return next(n for n in SEED_NAMES if n in names)


def seed_params(seed: int, names) -> dict:
    """``{seed parameter: seed}``, or nothing when ``names`` (the parameters the sweep file
    sets or sweeps) include a seed parameter: the file's own seed wins."""
    return {} if any(n in SEED_NAMES for n in names) else {seed_parameter(): seed}


def allowed_parameters() -> list[str]:
    """The ``NNClassifier`` parameters a sweep file may set or sweep."""
    return sorted(k for k in NNClassifier().get_params() if k not in NOT_SETTABLE)


@dataclass(frozen=True)
class Distribution:
    """A random-search distribution over ``[low, high]`` (randint: integers, both included)."""

    kind: str
    low: float
    high: float

    def scipy(self):
        from scipy import stats

        if self.kind == "loguniform":
            return stats.loguniform(self.low, self.high)
        if self.kind == "uniform":
            return stats.uniform(self.low, self.high - self.low)
        return stats.randint(int(self.low), int(self.high) + 1)

    def __str__(self) -> str:
        return f"{self.kind}({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class SweepConfig:
    """A parsed and validated sweep file. ``params`` maps each swept name to its values (a
    list) or, in a random search, a :class:`Distribution`."""

    params: dict
    fixed: dict = field(default_factory=dict)
    kind: str = "grid"
    folds: int | None = 3
    validation_fraction: float | None = None
    scoring: str = "accuracy"
    n_candidates: int | None = None
    seed: int = 0
    limit: int | None = None
    source: str = "<sweep>"

    def estimator_params(self) -> dict:
        """Parameters of the estimator every candidate starts from (the seed included)."""
        return {**seed_params(self.seed, [*self.fixed, *self.params]), **self.fixed}

    def n_total(self) -> int:
        """How many candidates the search will evaluate."""
        grid = math.prod(len(v) for v in self.params.values() if isinstance(v, list))
        if self.kind == "grid":
            return grid
        if all(isinstance(v, list) for v in self.params.values()):
            return min(grid, self.n_candidates)  # sampled without replacement
        return self.n_candidates


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate the sweep file at ``path``; :class:`SweepConfigError` on any problem."""
    path = Path(path)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise SweepConfigError(
                "reading a sweep file needs Python 3.11 or `pip install tomli`"
            ) from None
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepConfigError(
            f"{path}: no such file (see sweeps/mlp.toml for an example)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepConfigError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(doc, source=str(path))


def parse_config(doc: dict, source: str = "<sweep>") -> SweepConfig:
    """Validate a parsed TOML document (see the module docstring for its tables)."""

    def fail(message: str):
        raise SweepConfigError(f"{source}: {message}".replace("\n", " "))

    for table, value in doc.items():
        if table not in TABLES:
            fail(f"unknown table [{table}]; allowed: {', '.join(f'[{t}]' for t in TABLES)}")
        if not isinstance(value, dict):
            fail(f"{table} must be a table ([{table}]), got {value!r}")
        keys = TABLES[table]
        for key in value if keys is not None else ():
            if key not in keys:
                fail(f"unknown key {key!r} in [{table}]; allowed: {', '.join(keys)}")
    search, data = doc.get("search", {}), doc.get("data", {})
    kind = search.get("kind", "grid")
    if kind not in KINDS:
        fail(f"[search] kind = {kind!r}; allowed: {', '.join(map(repr, KINDS))}")
    seed = _integer(search.get("seed", 0), "[search] seed", 0, fail)
    folds = search.get("folds")
    fraction = search.get("validation_fraction")
    if folds is not None and fraction is not None:
        fail("[search] give folds or validation_fraction, not both")
    if fraction is None:
        folds = _integer(3 if folds is None else folds, "[search] folds", 2, fail)
    elif (
        isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1
    ):
        fail(f"[search] validation_fraction = {fraction!r}; allowed: a number in (0, 1)")
    scoring = search.get("scoring", "accuracy")
    if scoring not in SCORINGS:
        fail(f"[search] scoring = {scoring!r}; allowed: {', '.join(SCORINGS)}")
    n_candidates = search.get("n_candidates")
    if kind == "random":
        n_candidates = _integer(
            10 if n_candidates is None else n_candidates, "[search] n_candidates", 1, fail
        )
    elif n_candidates is not None:
        fail(
            '[search] n_candidates applies to kind = "random" only; a grid tries every combination'
        )
    limit = data.get("limit")
    if limit is not None:
        limit = _integer(limit, "[data] limit", 10, fail)

    allowed = allowed_parameters()
    fixed = {}
    for name, value in doc.get("fixed", {}).items():
        _check_name(name, "[fixed]", allowed, fail)
        fixed[name] = _as_value(value)
        _check_value("[fixed]", name, fixed[name], seed_params(seed, [name]), fail)
    params = doc.get("params", {})
    if not params:
        fail("[params] is empty; sweep at least one parameter, e.g. learning_rate = [1e-3, 1e-2]")
    swept = {}
    for name, spec in params.items():
        _check_name(name, "[params]", allowed, fail)
        if name in fixed:
            fail(f"{name} is both in [fixed] and in [params]; keep one")
        if isinstance(spec, dict):
            swept[name] = _distribution(name, spec, kind, fail)
            values = [swept[name].low, swept[name].high]
        elif isinstance(spec, list) and spec:
            swept[name] = values = [_as_value(v) for v in spec]
        else:
            fail(
                f"[params] {name} = {spec!r}; give a non-empty list of values"
                + (" or a distribution table" if kind == "random" else "")
            )
        base = {**seed_params(seed, [*fixed, name]), **fixed}
        for value in values:
            _check_value("[params]", name, value, base, fail)
    return SweepConfig(
        params=swept,
        fixed=fixed,
        kind=kind,
        folds=folds if fraction is None else None,
        validation_fraction=fraction,
        scoring=scoring,
        n_candidates=n_candidates,
        seed=seed,
        limit=limit,
        source=source,
    )


def _integer(value, what: str, low: int, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        fail(f"{what} = {value!r}; allowed: an integer >= {low}")
    return value


def _check_name(name: str, table: str, allowed: list[str], fail) -> None:
    if name not in allowed:
        fail(f"unknown NNClassifier parameter {name!r} in {table}; allowed: {', '.join(allowed)}")


def _as_value(value):
    """TOML has arrays, NNClassifier takes tuples (hidden widths): an array is one value."""
    return tuple(value) if isinstance(value, list) else value


def _distribution(name: str, spec: dict, kind: str, fail) -> Distribution:
    where = f"[params] {name}"
    if kind != "random":
        fail(f'{where}: distributions need kind = "random"; a grid takes a list of values')
    if set(spec) != {"distribution", "low", "high"}:
        fail(f"{where}: a distribution table has exactly the keys distribution, low, high")
    dist, low, high = spec["distribution"], spec["low"], spec["high"]
    if dist not in DISTRIBUTIONS:
        fail(f"{where}: distribution = {dist!r}; allowed: {', '.join(DISTRIBUTIONS)}")
    numbers = (int,) if dist == "randint" else (int, float)
    if (
        any(isinstance(v, bool) or not isinstance(v, numbers) for v in (low, high))
        or not low < high
        or (dist == "loguniform" and low <= 0)
    ):
        fail(
            f"{where}: low = {low!r}, high = {high!r}; allowed: "
            f"{'integers' if dist == 'randint' else 'numbers'} with low < high"
            + (" and low > 0" if dist == "loguniform" else "")
        )
    return Distribution(dist, low, high)


def _check_value(table: str, name: str, value, base: dict, fail) -> None:
    """Let NNClassifier's own parameter validation judge ``value`` (its message names what is
    allowed). No fit: a learning rate that diverges is a valid value whose candidate fails."""
    try:
        validate_params(NNClassifier(**{**base, name: value}).get_params())
    except (ValueError, TypeError) as exc:
        fail(f"{table} {name} = {value!r} is invalid: {exc}")
