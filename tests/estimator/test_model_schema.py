"""Hostile model directories: every defect the issue found has a test here, then property-based
fuzzing of ``load_model`` (mutated JSON values, truncations, bit flips, forged headers), and the
memory- and time-bound cases in a child process under ``RLIMIT_AS`` and a timeout."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnet.estimator.model_dir import MODEL_JSON, ModelFileError, load_model, save_model
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.nn.layers import BatchNorm, Dense, ReLU
from scratchnet.nn.network import Sequential

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks/ lives beside src/
from benchmarks.fuzz import (  # noqa: E402
    memory_cap,
    model_outcome,
    run_limited,
    time_limit,
)
from benchmarks.fuzz_cases import mutate_model, template_model_dir, write_model_case  # noqa: E402


@pytest.fixture
def model_dir(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    net = Sequential([Dense(784, 8, rng=rng), BatchNorm(8), ReLU(), Dense(8, 10, rng=rng)])
    X = rng.integers(0, 256, size=(20, 784))
    save_model(TrainedModel(net, Standardizer.fit(X), [f"c{i}" for i in range(10)]), tmp_path / "m")
    return tmp_path / "m"


def _edit(directory: Path, change, raw: str | None = None) -> None:
    """Apply ``change`` to model.json's document; a ``"@@"`` it sets becomes ``raw`` JSON text
    (for what ``json.dumps`` cannot write: ``1e400``, ``NaN``)."""
    doc = json.loads((directory / MODEL_JSON).read_text())
    change(doc)
    text = json.dumps(doc)
    (directory / MODEL_JSON).write_text(text if raw is None else text.replace('"@@"', raw))


def _refused(directory: Path, *fragments: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(directory)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _weights(directory: Path) -> Path:
    return directory / json.loads((directory / MODEL_JSON).read_text())["weights"]["file"]


def _rewrite_tensor(directory: Path, name: str, change) -> None:
    """Change one tensor and keep model.json's hash consistent: only the checks behind the hash
    can catch it."""
    from safetensors.numpy import load, save

    path = _weights(directory)
    tensors = load(path.read_bytes())
    change(tensors[name])
    blob = save(tensors)
    path.write_bytes(blob)
    _edit(directory, lambda d: d["weights"].update(sha256=hashlib.sha256(blob).hexdigest()))
    # the file name carries the hash's first digits; rename to keep the pair consistent
    new = f"weights-{hashlib.sha256(blob).hexdigest()[:16]}.safetensors"
    path.rename(directory / new)
    _edit(directory, lambda d: d["weights"].update(file=new))


# --- one test per defect found (each raised, hung, or was accepted before) ----------------------
def test_deeply_nested_json_is_refused_not_a_recursion_error(model_dir):
    text = (model_dir / MODEL_JSON).read_text()
    (model_dir / MODEL_JSON).write_text(text[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _refused(model_dir, "model.json", "nested")


def test_huge_float_input_shape_is_refused_not_an_overflow_error(model_dir):
    _edit(model_dir, lambda d: d.update(input_shape=["@@"]), raw="1e400")
    _refused(model_dir, "input_shape[0]", "integer")


@pytest.mark.parametrize("where", ["preprocessing.mean", "architecture.momentum", "metrics"])
def test_huge_integers_in_number_fields_are_refused_not_an_overflow_error(model_dir, where):
    """10**400 is a valid JSON integer, but float() of it raises OverflowError (found by
    benchmarks/fuzz.py)."""
    huge = 10**400
    change = {
        "preprocessing.mean": lambda d: d["preprocessing"]["mean"].__setitem__(0, huge),
        "architecture.momentum": lambda d: d["architecture"][1].update(momentum=huge),
        "metrics": lambda d: d.update(metrics={"test_accuracy": huge}),
    }[where]
    _edit(model_dir, change)
    _refused(model_dir, where.split(".")[0])


@pytest.mark.parametrize("name", [3, None, ["weights"], {"a": 1}])
def test_non_string_weights_file_name_is_refused_not_a_type_error(model_dir, name):
    _edit(model_dir, lambda d: d["weights"].update(file=name))
    _refused(model_dir, "weights.file")


def test_too_few_class_names_are_refused_not_an_index_error(model_dir):
    _edit(model_dir, lambda d: d.update(class_names=["a", "b"]))
    _refused(model_dir, "class_names lists 2 classes")


def test_class_names_as_a_string_is_refused(model_dir):
    _edit(model_dir, lambda d: d.update(class_names="abcdefghij"))
    _refused(model_dir, "class_names")


def test_duplicate_class_names_are_refused(model_dir):
    _edit(model_dir, lambda d: d.update(class_names=["a"] * 10))
    _refused(model_dir, "class_names", "distinct")


@pytest.mark.parametrize("shape", [[-784], [], [0], [784, -1], "784", [True]])
def test_negative_or_empty_input_shape_is_refused(model_dir, shape):
    _edit(model_dir, lambda d: d.update(input_shape=shape))
    _refused(model_dir, "input_shape")


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_format_version_must_be_the_integer_1(model_dir, version):
    _edit(model_dir, lambda d: d.update(format_version=version))
    _refused(model_dir, "format_version")


@pytest.mark.parametrize("where", ["model.json", "weights"])
def test_a_directory_in_place_of_a_file_is_refused_not_is_a_directory_error(model_dir, where):
    path = model_dir / MODEL_JSON if where == "model.json" else _weights(model_dir)
    path.unlink()
    path.mkdir()
    _refused(model_dir, path.name, "directory")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_with_a_consistent_hash_are_refused(model_dir, value):
    _rewrite_tensor(model_dir, "0.weight", lambda w: w.__setitem__((0, 0), value))
    _refused(model_dir, "0.weight", "NaN or infinite")


def test_non_finite_batch_norm_buffer_is_refused(model_dir):
    _rewrite_tensor(model_dir, "1.running_var", lambda v: v.__setitem__(0, np.inf))
    _refused(model_dir, "1.running_var")


@pytest.mark.parametrize(
    "key, value",
    [("mean", "NaN"), ("mean", "Infinity"), ("std", "NaN"), ("std", "0"), ("std", "-1")],
)
def test_non_finite_or_non_positive_statistics_are_refused(model_dir, key, value):
    _edit(model_dir, lambda d: d["preprocessing"][key].__setitem__(5, "@@"), raw=value)
    _refused(model_dir, f"preprocessing.{key}[5]")


def test_statistics_of_the_wrong_length_are_refused(model_dir):
    _edit(model_dir, lambda d: d["preprocessing"].update(mean=[0.0] * 100))
    _refused(model_dir, "preprocessing.mean", "784")


def test_architecture_inconsistent_with_itself_is_refused_before_building(model_dir):
    _edit(model_dir, lambda d: d["architecture"][3].update(in_features=9))
    _refused(model_dir, "architecture[3].in_features", "[8]")


def test_architecture_inconsistent_with_the_weights_header_is_refused(model_dir):
    _edit(model_dir, lambda d: d["architecture"][0].update(bias=False))
    _refused(model_dir, "weights do not match", "0.bias")


@pytest.mark.parametrize("dtype", ["float16", "int8", None, ["float32"]])
def test_dtype_outside_the_allowed_set_is_refused(model_dir, dtype):
    _edit(model_dir, lambda d: d.update(dtype=dtype))
    _refused(model_dir, "'dtype'")


@pytest.mark.parametrize(
    "name",
    [
        "../weights-0123456789abcdef.safetensors",
        "/etc/passwd",
        "weights-0123456789abcdef.safetensors/..",
    ],
)
def test_weights_file_name_with_path_parts_is_refused(model_dir, name):
    _edit(model_dir, lambda d: d["weights"].update(file=name))
    _refused(model_dir, "weights.file", "plain file name")


def test_safetensors_header_length_larger_than_the_file_is_refused(model_dir):
    path = _weights(model_dir)
    blob = path.read_bytes()
    path.write_bytes((2**62).to_bytes(8, "little") + blob[8:])
    _refused(model_dir, path.name, "header length")


def test_old_version_1_directory_still_loads(model_dir):
    """Today's files (before this schema) lack nothing the schema needs."""
    _edit(model_dir, lambda d: d.pop("environment"))
    assert load_model(model_dir).class_names[0] == "c0"


# --- time and memory: in a child process under RLIMIT_AS and a timeout ------------------------
def _child_outcomes(directory: Path, timeout: float = 60) -> list[str]:
    code = (
        "import sys\nfrom benchmarks.fuzz import model_outcome\n"
        "for d in sys.argv[1:]: print(model_outcome(d))\n"
    )
    result = run_limited(code.replace("sys.argv[1:]", repr([str(directory)])), timeout=timeout)
    assert result.returncode is not None, "the loader hung (timed out)"
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


@pytest.mark.parametrize("out_features", [10**6, 10**7, 2**40])
def test_huge_layer_sizes_are_refused_before_allocating(model_dir, out_features):
    def grow(d):
        d["architecture"][0]["out_features"] = out_features
        d["architecture"][1]["num_features"] = out_features
        d["architecture"][3]["in_features"] = out_features

    _edit(model_dir, grow)
    assert _child_outcomes(model_dir) == ["clean"]


@pytest.mark.parametrize("where", ["model.json", "weights"])
@pytest.mark.parametrize("special", ["fifo", "dev_zero"])
def test_fifo_or_device_in_place_of_a_file_neither_hangs_nor_grows(model_dir, where, special):
    path = model_dir / MODEL_JSON if where == "model.json" else _weights(model_dir)
    path.unlink()
    os.mkfifo(path) if special == "fifo" else path.symlink_to("/dev/zero")
    assert _child_outcomes(model_dir, timeout=30) == ["clean"]


# --- property-based fuzzing --------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return template_model_dir(tmp_path_factory.mktemp("template") / "m")


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_model_directories_load_cleanly_or_fail_cleanly(template, tmp_path, seed):
    """Whatever the mutation, load_model raises ModelFileError (one line) or returns a model
    that predicts finite probabilities."""
    case = tmp_path / "case"
    case.mkdir(exist_ok=True)
    kind, text, blob = mutate_model(template, random.Random(seed))
    write_model_case(case, kind, text, blob)
    with time_limit(10), memory_cap(1024):  # a FIFO must not block the loader
        assert model_outcome(case) in ("clean", "valid"), kind


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(alphabet='ab[]{}"\\\n'),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet='k[]{}"\\'), children, max_size=4)
    ),
    max_leaves=30,
)


def _depth_and_containers(value) -> tuple[int, int]:
    if isinstance(value, (list, dict)):
        inner = [
            _depth_and_containers(v) for v in (value.values() if isinstance(value, dict) else value)
        ]
        return 1 + max((d for d, _ in inner), default=0), 1 + sum(c for _, c in inner)
    return 0, 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(value=_JSON)
def test_the_nesting_prescan_counts_brackets_outside_strings_exactly(value):
    """Strings full of quotes, backslashes and brackets must not fool the pre-scan that keeps
    json.loads from recursing too deep."""
    from scratchnet.estimator.safe_read import _nesting

    assert _nesting(json.dumps(value).encode()) == _depth_and_containers(value)


def test_the_nesting_prescan_is_linear_on_escaped_quotes():
    """A regular expression for strings took 4 s on 32 KB of '"\\"\\"...' (quadratic)."""
    import time

    from scratchnet.estimator.safe_read import UnsafeFileError, parse_json

    start = time.perf_counter()
    with pytest.raises(UnsafeFileError, match="corrupt or truncated JSON"):
        parse_json(b'"' + b'\\"' * 1_000_000)
    assert time.perf_counter() - start < 5


def test_null_record_fields_mean_absent(model_dir):
    """The training record writes None as null or leaves it out: both load."""
    nulls = dict.fromkeys(
        [
            "labels",
            "epochs_run",
            "n_train",
            "preset",
            "created",
            "seed",
            "metrics",
            "history",
            "params",
            "environment",
            "sweep",
        ]
    )
    _edit(model_dir, lambda d: d.update(nulls))
    assert load_model(model_dir).meta["labels"] is None
