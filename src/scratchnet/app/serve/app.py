"""The web application: the page, the JSON API and their error handling (FastAPI).

Routes: ``/`` (the page), ``/static/*`` (its script and style), ``POST /api/predict``,
``GET /api/model``, ``GET /api/random`` (a random Fashion-MNIST test image, when the data is
there), ``GET /healthz``; OpenAPI docs at ``/docs``.

Every error is a 4xx (or 500) JSON ``{"error": "<one line>"}``: 413 for a body over the upload
limit or an image over the pixel limit, 415 for bytes that are no image (the format is sniffed
from the content, never taken from the name or the declared type), 422 for an unreadable,
truncated or blank image or a malformed request. No traceback ever reaches a response.

Requests run in FastAPI's thread pool, so several are decoded and classified at once; a
semaphore bounds how many at a time (``max_concurrent``), which bounds memory too: a decode
holds at most one ``MAX_PIXELS`` image.
"""

# No ``from __future__ import annotations`` here: FastAPI evaluates the route annotations, and
# one of them (``top_k``'s bound) uses the model, a local of create_app.
import threading
from importlib import resources
from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from scratchnet.app.photos import (
    MAX_PIXELS,
    ImageTooLargeError,
    NotAnImageError,
    PhotoError,
    load_photo_bytes,
)
from scratchnet.app.serve import inference, schemas
from scratchnet.app.serve.limits import BodyLimit, RequestLog, error_body, log
from scratchnet.estimator.trained_model import TrainedModel

DEFAULT_MAX_UPLOAD_MB = 10
# Room for the multipart framing (boundaries, part headers) around the image itself.
_MULTIPART_OVERHEAD = 16 * 1024


def create_app(model: TrainedModel, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20,
               test_images: tuple[np.ndarray, np.ndarray] | None = None,
               max_concurrent: int = 4, seed: int | None = None):
    """Build the ASGI application serving ``model``.

    Parameters
    ----------
    model : TrainedModel
        Loaded once; shared (read-only) by all requests.
    max_upload_bytes : int, default=10 MiB
        Largest accepted image file; larger uploads get 413 before they are read.
    test_images : (X, y), optional
        Fashion-MNIST test images (N, 784) uint8 and labels, for ``/api/random``; without
        them that route answers 404 and the page hides its button.
    max_concurrent : int, default=4
        Images decoded and classified at the same time; more requests wait their turn.
    seed : int, optional
        Seed of the random test image choice.
    """
    app = FastAPI(title="scratchnet", version=_version(),
                  description="Classify a photo of a garment with a network written in NumPy.")
    gate = threading.BoundedSemaphore(max_concurrent)
    rng = np.random.default_rng(seed)
    rng_lock = threading.Lock()
    card = inference.model_card(model)
    card["random_images"] = test_images is not None
    card["max_upload_bytes"] = int(max_upload_bytes)
    card["max_pixels"] = MAX_PIXELS
    size = (f"{max_upload_bytes / 2**20:.3g} MB" if max_upload_bytes >= 2**20
            else f"{max_upload_bytes / 1024:.3g} KB")
    too_large = (f"upload too large: the server accepts image files up to {size} "
                 "(scratchnet serve --max-upload-mb)")

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such page: {request.url.path}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return _error(exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(_static("index.html"))

    @app.get("/healthz", summary="Liveness check", response_model=schemas.Health)
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/api/model", summary="The model card", response_model=schemas.ModelCard)
    def model_info() -> dict:
        """Architecture, parameter count, test accuracy, training date, class names, and
        whether ``/api/random`` has images."""
        return card

    @app.post("/api/predict", summary="Classify an uploaded image",
              response_model=schemas.Prediction, response_model_exclude_none=True,
              responses={413: _failure("the file or the image (in pixels) is too large"),
                         415: _failure("not an image (judged by content, not name)"),
                         422: _failure("unreadable, truncated or blank image, or a malformed "
                                       "request"),
                         500: _failure("a bug: the server log has one line about it")})
    def predict_route(
        image: Annotated[UploadFile, File(description="PNG, JPEG or any format Pillow reads")],
        top_k: Annotated[int, Query(ge=1, le=len(model.class_names),
                                    description="how many classes to list")] = 3,
        explain: Annotated[bool, Query(description="include the 28 x 28 input and the "
                                       "saliency map as PNG data URLs")] = True,
    ):
        """Bring the image to the Fashion-MNIST convention (as ``scratchnet predict`` does) and
        return the ``top_k`` classes, all probabilities and, with ``explain``, the 28 x 28
        image the network sees and the saliency map as PNG data URLs."""
        data = image.file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            return _error(413, too_large)
        if not data:
            return _error(422, f"{image.filename or 'upload'}: the file is empty")
        try:
            with gate:
                pixels = load_photo_bytes(data, _display_name(image.filename))
                result = inference.predict(model, pixels, explain=explain)
        except ImageTooLargeError as exc:
            return _error(413, str(exc))
        except NotAnImageError as exc:
            return _error(415, str(exc))
        except PhotoError as exc:
            return _error(422, str(exc))
        except MemoryError:
            return _error(503, "out of memory: try a smaller image or fewer requests at once")
        except Exception as exc:  # noqa: BLE001 - one line in the log, never a traceback out
            log.error("predict failed: %s: %s", type(exc).__name__, " ".join(str(exc).split()))
            return _error(500, f"internal error ({type(exc).__name__}); see the server log")
        return _answer(model, pixels, result, top_k)

    @app.get("/api/random", summary="A random Fashion-MNIST test image",
             response_model=schemas.RandomImage,
             responses={404: _failure("the server has no test images")})
    def random_image() -> dict:
        """A test-set image as a PNG data URL with its true label (404 without the data)."""
        if test_images is None:
            return _error(404, "no test images: start the server with --data-dir pointing at "
                          "the Fashion-MNIST files")
        X, y = test_images
        with rng_lock:
            i = int(rng.integers(X.shape[0]))
        return {"index": i, "label": model.class_names[int(y[i])],
                "image": inference.gray_png(X[i])}

    static_dir = resources.files("scratchnet.app.serve") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + _MULTIPART_OVERHEAD,
                       message=too_large)
    app.add_middleware(RequestLog)
    return app


def _answer(model, pixels, result: inference.Prediction, k: int) -> dict:
    proba = result.probabilities
    top = inference.top_k(model, proba, k)
    answer = {"label": top[0]["label"], "top": top,
              "probabilities": {n: float(p) for n, p in zip(model.class_names, proba,
                                                            strict=True)}}
    if result.saliency is not None:
        answer["input_png"] = inference.gray_png(pixels)
        answer["saliency_png"] = inference.saliency_png(result.saliency)
    return answer


def _failure(description: str) -> dict:
    return {"model": schemas.ErrorAnswer, "description": description}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": " ".join(message.split())})


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's list of validation errors as one line."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        if err.get("type") == "missing" and where == "image":
            parts.append("send the image as a multipart/form-data field named 'image'")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _display_name(filename: str | None) -> str:
    """The upload's name for messages: no path, no control characters, bounded length."""
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:80]
    return name or "upload"


def _static(name: str) -> str:
    return (resources.files("scratchnet.app.serve") / "static" / name).read_text("utf-8")


def _version() -> str:
    from scratchnet import __version__

    return __version__


__all__ = ["DEFAULT_MAX_UPLOAD_MB", "create_app", "error_body"]
