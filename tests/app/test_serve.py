"""``scratchnet serve``'s API: answers agree with ``scratchnet predict``, the saliency map is the
gradient of the winning logit, every bad request gets its status and one-line error, the
limits hold, and concurrent requests on a real uvicorn server get the single-threaded answers.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import io
import json
import select
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from conftest import numerical_gradient, relative_error
from fastapi.testclient import TestClient
from PIL import Image

from scratchnet.app.cli import main
from scratchnet.app.photos import load_photo
from scratchnet.app.serve import create_app, inference
from scratchnet.estimator.model_dir import load_model, save_model
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.nn.architectures import cnn
from scratchnet.nn.network import Sequential

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ lives beside src/
from benchmarks.serve import png_bomb  # noqa: E402  (the load test's hostile uploads)

SMALL_LIMIT = 200_000  # bytes: the upload limit of the test app


# --- fixtures and helpers (the browser tests use them too) ------------------------------------
_SHARED: dict = {}  # the browser tests import these fixtures: train and load once for both


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A real MLP, trained briefly (about 2 s) and saved as `scratchnet train` does."""
    from scratchnet.app.experiment import train_preset

    if "dir" not in _SHARED:
        directory = tmp_path_factory.mktemp("serve") / "mlp"
        save_model(train_preset("mlp", epochs=1, limit=3000, seed=0), directory)
        _SHARED["dir"] = directory
    return _SHARED["dir"]


@pytest.fixture(scope="session")
def model(model_dir):
    if "model" not in _SHARED:
        _SHARED["model"] = load_model(model_dir)
    return _SHARED["model"]


@pytest.fixture(scope="session")
def cnn_model(fashion_mnist_test):
    """A small CNN with BatchNorm and dropout (untrained: the concurrency test needs
    convolutions and pooling, not accuracy)."""
    X, _ = fashion_mnist_test
    layers = cnn(n_classes=10, rng=np.random.default_rng(0), channels=(4, 8), hidden=16)
    for layer in layers:
        if "running_var" in layer.buffers:
            layer.buffers["running_var"][...] = 4.0  # not the identity
    names = [f"class {i}" for i in range(10)]
    return TrainedModel(Sequential(layers), Standardizer.fit(X[:500]), names)


def png_bytes(pixels: np.ndarray, side: int = 112) -> bytes:
    """A dataset image (784,) as an upscaled PNG, as a user would upload it."""
    buf = io.BytesIO()
    Image.fromarray(pixels.reshape(28, 28)).resize((side, side), Image.Resampling.BICUBIC).save(
        buf, "PNG")
    return buf.getvalue()


def decode_data_url(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


@contextlib.contextmanager
def running_server(app):
    """A real uvicorn server for ``app`` on 127.0.0.1 and a free port, in a thread; yields
    its base URL and stops it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def client(model, fashion_mnist_test):
    app = create_app(model, max_upload_bytes=SMALL_LIMIT, test_images=fashion_mnist_test,
                     seed=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def post_image(client, data: bytes, name="photo.png", content_type="image/png", **params):
    return client.post("/api/predict", params=params,
                       files={"image": (name, data, content_type)})


# --- answers ----------------------------------------------------------------------------------
def test_predict_agrees_with_the_cli(client, model_dir, fashion_mnist_test, tmp_path, capsys):
    X, _ = fashion_mnist_test
    paths = []
    for i in range(0, 2000, 100):  # 20 real test images, saved as photos
        path = tmp_path / f"item{i}.png"
        path.write_bytes(png_bytes(X[i]))
        paths.append(path)
    capsys.readouterr()
    assert main(["predict", str(model_dir), "--json", *map(str, paths)]) == 0
    cli = json.loads(capsys.readouterr().out)
    for path, row in zip(paths, cli, strict=True):
        answer = post_image(client, path.read_bytes(), explain="false").json()
        assert answer["label"] == row["label"]
        # The CLI classifies the 20 as one batch, the API one by one: float32 products may
        # differ in the last bit, below the CLI's 6 printed digits but not always its rounding.
        for name, p in row["probabilities"].items():
            assert abs(answer["probabilities"][name] - p) <= 2e-6
    capsys.readouterr()
    assert main(["predict", str(model_dir), "--json", str(paths[0])]) == 0  # one image: exact
    row = json.loads(capsys.readouterr().out)[0]
    answer = post_image(client, paths[0].read_bytes(), explain="false").json()
    assert {n: round(p, 6) for n, p in answer["probabilities"].items()} == row["probabilities"]


def test_an_answer_has_top_k_all_probabilities_the_input_and_the_saliency(client, model,
                                                                         fashion_mnist_test):
    X, _ = fashion_mnist_test
    data = png_bytes(X[7])
    answer = post_image(client, data, top_k=5).json()
    probabilities = np.array(list(answer["probabilities"].values()))
    assert list(answer["probabilities"]) == model.class_names
    assert abs(probabilities.sum() - 1.0) < 1e-9
    top = [row["probability"] for row in answer["top"]]
    assert len(top) == 5 and top == sorted(probabilities, reverse=True)[:5]
    assert answer["label"] == answer["top"][0]["label"] == model.class_names[probabilities.argmax()]
    seen = decode_data_url(answer["input_png"])
    assert seen.size == (28, 28) and seen.mode == "L"
    pixels = load_photo(_saved(data))
    np.testing.assert_array_equal(np.asarray(seen).reshape(-1), pixels)
    heat = decode_data_url(answer["saliency_png"])
    assert heat.size == (28, 28) and heat.mode == "RGBA"
    alpha = np.asarray(heat)[..., 3].reshape(-1)
    assert alpha.max() == 255 and np.count_nonzero(alpha) > 100
    other = decode_data_url(post_image(client, png_bytes(X[8])).json()["saliency_png"])
    assert not np.array_equal(np.asarray(other), np.asarray(heat))  # each image its own map
    plain = post_image(client, data, explain="false").json()
    assert "saliency_png" not in plain and plain["probabilities"] == answer["probabilities"]


def _saved(data: bytes):
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
        f.write(data)
    return f.name


def test_saliency_is_the_gradient_of_the_winning_logit_in_pixels(model, fashion_mnist_test):
    """The served map against finite differences of the winning logit with respect to the
    network's input (the standardised pixels), on a float64 copy of the trained network."""
    layers = [copy.deepcopy(layer).astype(np.float64) for layer in model.network.layers]
    model64 = dataclasses.replace(model, network=Sequential(layers), dtype="float64")
    pixels = fashion_mnist_test[0][11]
    result = inference.predict(model64, pixels)
    k = int(result.probabilities.argmax())
    z = model64.preprocess(pixels.reshape(1, -1))  # (1, 784), perturbed in place

    def logit():
        return float(model64.network.forward(z)[0, k])

    numeric = np.abs(numerical_gradient(logit, z)[0])
    assert relative_error(result.saliency, numeric / numeric.max()) < 1e-6


def test_model_card_health_and_openapi(client, model):
    card = client.get("/api/model").json()
    assert card["architecture"][0] == "Dense 784→256" and card["classes"] == model.class_names
    assert card["parameters"] == model.network.n_parameters()
    record = model.record
    assert card["test_accuracy"] == record.metrics.test_accuracy and card["epochs"] == 1
    assert card["trained"] == record.created and card["random_images"] is True
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/api/predict"]["post"]
    assert "multipart/form-data" in predict["requestBody"]["content"]
    assert {"200", "413", "415", "422"} <= set(predict["responses"])
    schemas = spec["components"]["schemas"]
    answer = predict["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert answer.endswith("/Prediction") and {"label", "top", "probabilities", "saliency_png"} \
        <= set(schemas["Prediction"]["properties"])
    error = predict["responses"]["415"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[error.rsplit("/", 1)[1]]["properties"]) == {"error"}
    assert set(schemas["ModelCard"]["properties"]) == set(card)  # the docs list every field
    assert {"/api/model", "/api/random", "/healthz"} <= set(spec["paths"])
    page = client.get("/")
    assert page.status_code == 200 and "/static/page.js" in page.text
    assert "http" not in client.get("/static/page.js").text.replace("http://", "")  # no CDN


def test_random_test_image(client, model, fashion_mnist_test):
    body = client.get("/api/random").json()
    X, y = fashion_mnist_test
    img = decode_data_url(body["image"])
    np.testing.assert_array_equal(np.asarray(img).reshape(-1), X[body["index"]])
    assert body["label"] == model.class_names[int(y[body["index"]])]


def test_without_test_images_random_is_404_and_the_card_says_so(model):
    with TestClient(create_app(model)) as c:
        assert c.get("/api/model").json()["random_images"] is False
        r = c.get("/api/random")
        assert r.status_code == 404 and "--data-dir" in r.json()["error"]


# --- bad requests -----------------------------------------------------------------------------
def _noise_png():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(
        buf, "PNG")
    return buf.getvalue()


def _truncated():
    return _noise_png()[:300]


def _corrupt():
    blob = bytearray(_noise_png())
    blob[100:200] = bytes(100)  # zeroed compressed data: the checksum fails
    return bytes(blob)


def _blank():
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (255, 255, 255)).save(buf, "PNG")
    return buf.getvalue()


BAD_UPLOADS = {
    # name: (bytes, filename, declared type, status, words in the error)
    "text_file": (b"just some notes\n", "notes.txt", "text/plain", 415, "not an image"),
    "text_named_png": (b"GIF? no, text\n" * 10, "photo.png", "image/png", 415, "not an image"),
    "zip_archive": (b"PK\x03\x04" + bytes(200), "a.jpg", "image/jpeg", 415, "not an image"),
    "empty": (b"", "empty.png", "image/png", 422, "empty"),
    "truncated_png": (_truncated(), "t.png", "image/png", 422, "corrupt or truncated"),
    "corrupt_png": (_corrupt(), "c.png", "image/png", 422, "corrupt or truncated"),
    "blank_image": (_blank(), "white.png", "image/png", 422, "blank"),
    "pixel_bomb": (png_bomb(12_000), "bomb.png", "image/png", 413, "too large"),
    "oversize_file": (bytes(SMALL_LIMIT + 1), "big.png", "image/png", 413, "too large"),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_each_bad_upload_gets_its_status_and_one_line(client, case):
    data, name, ctype, status, words = BAD_UPLOADS[case]
    start = time.perf_counter()
    r = post_image(client, data, name=name, content_type=ctype)
    assert time.perf_counter() - start < 2.0
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and words in body["error"]
    assert "\n" not in body["error"] and "Traceback" not in r.text
    assert client.get("/healthz").status_code == 200  # still serving


def test_content_decides_not_the_name(client, fashion_mnist_test):
    data = png_bytes(fashion_mnist_test[0][3])
    r = post_image(client, data, name="notes.txt", content_type="text/plain")
    assert r.status_code == 200 and r.json()["label"]


@pytest.mark.parametrize("case", ["no_file_field", "bad_top_k", "not_multipart"])
def test_malformed_requests_are_422_with_one_line(client, case):
    if case == "no_file_field":
        r = client.post("/api/predict", data={"other": "x"})
    elif case == "bad_top_k":
        r = post_image(client, _blank(), top_k=0)
    else:
        r = client.post("/api/predict", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert set(r.json()) == {"error"} and "\n" not in r.json()["error"]


def test_unknown_routes_and_methods_answer_json(client):
    r = client.get("/nothing/here")
    assert r.status_code == 404 and r.json() == {"error": "no such page: /nothing/here"}
    r = client.get("/api/predict")
    assert r.status_code == 405 and "GET" in r.json()["error"]


def test_declared_length_over_the_limit_is_refused_before_reading(client):
    def body():  # would be 100 MB if the server read it
        yield b"--x\r\n"
        raise AssertionError("the server read the body")

    r = client.post("/api/predict", content=body(), headers={
        "content-type": "multipart/form-data; boundary=x", "content-length": str(100 * 2**20)})
    assert r.status_code == 413 and "too large" in r.json()["error"]


def test_a_streamed_body_without_length_is_cut_at_the_limit(model):
    """Chunked upload (no Content-Length) to a real server: it answers 413 once 200 KB have
    arrived, while the client still has most of its 64 MB to send."""
    with running_server(create_app(model, max_upload_bytes=SMALL_LIMIT)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: multipart/form-data; boundary=x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            head = (b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"'
                    b"\r\nContent-Type: image/png\r\n\r\n")
            sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
            chunk = b"10000\r\n" + bytes(65536) + b"\r\n"  # 64 KiB per chunk
            sent = 0
            with contextlib.suppress(OSError):  # the server may close while we write
                while sent < 64 * 2**20 and not select.select([sock], [], [], 0)[0]:
                    sock.sendall(chunk)
                    sent += 65536
            response = b""
            while not response.endswith(b"}"):  # the JSON body may come in a second segment
                part = sock.recv(65536)
                if not part:
                    break
                response += part
            response = response.decode("latin-1")
    assert response.startswith("HTTP/1.1 413"), response[:200]
    assert '{"error":"upload too large' in response
    assert sent < 16 * 2**20  # stopped early (what was sent sat in socket buffers)


def test_an_oversize_upload_to_a_real_server_reads_the_413(model):
    """A client that sends its whole body first (as browsers do) gets the answer, not a reset."""
    with running_server(create_app(model, max_upload_bytes=SMALL_LIMIT)) as url:
        for size in (SMALL_LIMIT + 1, 3 * SMALL_LIMIT):
            r = httpx.post(url + "/api/predict", timeout=30,
                           files={"image": ("big.png", bytes(size), "image/png")})
            assert r.status_code == 413 and "too large" in r.json()["error"]
        assert httpx.get(url + "/healthz").status_code == 200


def test_one_log_line_per_request(client, caplog):
    with caplog.at_level("INFO", logger="scratchnet.serve"):
        client.get("/healthz")
        post_image(client, b"text", name="a.txt")
    lines = [r.getMessage() for r in caplog.records if r.name == "scratchnet.serve"]
    assert len(lines) == 2
    assert "GET /healthz 200" in lines[0] and "POST /api/predict 415" in lines[1]


# --- concurrency on a real server -------------------------------------------------------------
@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_concurrent_requests_get_the_single_threaded_answers(which, model, cnn_model,
                                                              fashion_mnist_test):
    served = model if which == "mlp" else cnn_model
    X, _ = fashion_mnist_test
    images = [png_bytes(X[i]) for i in range(0, 1200, 50)]  # 24 different images
    with running_server(create_app(served, max_concurrent=8)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:

        def ask(data):
            r = http.post("/api/predict", params={"top_k": 10},
                          files={"image": ("x.png", data, "image/png")})
            assert r.status_code == 200, r.text
            return r.json()

        expected = [ask(data) for data in images]  # one at a time
        jobs = images * 4  # 96 requests, 12 in flight at once
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(ask, jobs))
    for i, answer in enumerate(answers):
        # Bit for bit: the same probabilities and the same saliency PNG.
        assert answer == expected[i % len(images)], i


# --- the command ------------------------------------------------------------------------------
def test_the_serve_command_in_a_subprocess(model_dir, fashion_mnist_test):
    """`scratchnet serve` for real: it says where it listens (``--port 0`` picks a free port),
    answers, logs one line per request, and stops cleanly on Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "scratchnet", "serve", str(model_dir),
                             "--port", "0"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = proc.stderr.readline()
        assert "serving" in first and "http://127.0.0.1:" in first, first
        url = first.split("at ", 1)[1].split("/ ", 1)[0]
        assert httpx.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
        r = httpx.post(url + "/api/predict", files={"image": ("x.png", png_bytes(
            fashion_mnist_test[0][0]), "image/png")}, timeout=30)
        assert r.status_code == 200 and r.json()["label"]
        assert httpx.post(url + "/api/predict", files={"image": ("a.txt", b"hi")},
                          timeout=10).status_code == 415
        assert httpx.get(url + "/api/random", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=20)[1]
    assert proc.returncode == 0, rest
    requests = [line for line in rest.splitlines() if " 127.0.0.1 " in line]
    assert len(requests) == 4 and "POST /api/predict 415" in requests[2], rest
    assert "Traceback" not in rest


@pytest.mark.parametrize("argv, words", [
    (["serve", "/nonexistent/model"], "not a model directory"),
    (["serve", "MODEL", "--data-dir", "/nonexistent/data"], "--data-dir"),
    (["serve", "MODEL", "--host", "nowhere.invalid"], "--host nowhere.invalid"),
])
def test_serve_command_errors_are_one_line(argv, words, model_dir, capsys):
    argv = [str(model_dir) if a == "MODEL" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and err.startswith("scratchnet serve: error:")


def test_help_states_the_limits_the_code_applies(capsys):
    from scratchnet.app.photos import MAX_PIXELS

    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{MAX_PIXELS // 10**6} megapixels" in out and "--max-upload-mb" in out
