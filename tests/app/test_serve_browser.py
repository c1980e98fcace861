"""The page of ``scratchnet serve`` in a real browser: Debian's headless Chromium driven by
Playwright, against a real uvicorn server on 127.0.0.1.

Without a ``chromium`` binary these tests skip with one line, except under ``CI=true``, where
a missing browser is a failure (CI installs it). ``SCRATCHNET_SCREENSHOT=docs/serve.png``
also saves the page after an upload (how the README's picture is made).
"""

from __future__ import annotations

import base64
import os
import shutil

import httpx
import pytest
from test_serve import model, model_dir, png_bytes, running_server  # noqa: F401 - fixtures

from scratchnet.app.serve import create_app

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and CI must run the browser tests "
                        "(apt-get install -y chromium)")
        pytest.skip("chromium not installed (apt-get install -y chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(model, fashion_mnist_test):  # noqa: F811 - the fixture imported above
    with running_server(create_app(model, test_images=fashion_mnist_test, seed=1)) as url:
        yield url


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    yield page
    page.close()


def _api_label(server, data: bytes) -> str:
    r = httpx.post(server + "/api/predict", params={"explain": "false"},
                   files={"image": ("x.png", data, "image/png")}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["label"]


def test_uploading_a_test_image_shows_its_top1_label(page, server, fashion_mnist_test,
                                                     tmp_path):
    X, _ = fashion_mnist_test
    path = tmp_path / "ankle-boot.png"
    path.write_bytes(png_bytes(X[0], side=280))
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#result", state="visible", timeout=10_000)
    assert page.inner_text("#top1") == _api_label(server, path.read_bytes())
    assert page.locator("#bars li").count() == 3
    shown = page.locator("#bars .pct").all_inner_texts()
    assert "100.0%" not in shown and "0.0%" not in shown  # never a false certainty
    assert page.get_attribute("#seen", "src").startswith("data:image/png;base64,")
    assert page.get_attribute("#saliency", "src").startswith("data:image/png;base64,")
    assert page.is_hidden("#error")
    card = page.inner_text("#card")
    assert "Dense 784→256" in card and "Test accuracy" in card
    shot = os.environ.get("SCRATCHNET_SCREENSHOT")
    page.screenshot(path=shot or str(tmp_path / "serve.png"))


def test_a_stroke_on_the_canvas_is_classified(page, server, model):  # noqa: F811
    box = page.locator("#canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    # A trouser-like shape: two long vertical strokes joined at the top.
    page.mouse.move(x0 + 100, y0 + 30)
    page.mouse.down()
    for x, y in [(180, 30), (185, 260), (185, 260)]:
        page.mouse.move(x0 + x, y0 + y, steps=8)
    page.mouse.up()
    page.wait_for_selector("#result", state="visible", timeout=10_000)
    shown = page.inner_text("#top1")
    assert shown in model.class_names
    drawing = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
    data = base64.b64decode(drawing.split(",", 1)[1])
    assert shown == _api_label(server, data)  # the page showed the server's answer


def test_a_text_file_shows_the_error_message(page, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a photo at all\n")
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#error", state="visible", timeout=10_000)
    message = page.inner_text("#error")
    assert "notes.txt: not an image file" in message
    assert page.is_hidden("#result")


def test_the_random_test_image_button(page, model):  # noqa: F811
    assert page.is_visible("#random")
    page.click("#random")
    page.wait_for_selector("#result", state="visible", timeout=10_000)
    truth = page.inner_text("#truth")
    assert "the test set says" in truth
    assert any(name in truth for name in model.class_names)


def test_the_button_is_hidden_without_test_images(browser, model):  # noqa: F811
    with running_server(create_app(model)) as url:
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=10_000)
        assert page.is_hidden("#random")
        page.close()


def test_the_page_works_offline(browser, server):
    """Every request the page makes goes to the server itself: no CDN, no font service."""
    page = browser.new_page()
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    page.close()
    assert urls and all(u.startswith(server) or u.startswith("data:") for u in urls), urls


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_a_dropped_or_pasted_photo_is_classified(how, page, server, fashion_mnist_test):
    data = png_bytes(fashion_mnist_test[0][1], side=200)
    page.evaluate("""([how, b64]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "photo.png", { type: "image/png" }));
        const event = how === "drop"
            ? new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true })
            : new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true });
        (how === "drop" ? document.getElementById("drop-zone") : document).dispatchEvent(event);
    }""", [how, base64.b64encode(data).decode()])
    page.wait_for_selector("#result", state="visible", timeout=10_000)
    assert page.inner_text("#top1") == _api_label(server, data)
