"""``scratchnet serve MODEL_DIR``: the web page and JSON API for a trained model (uvicorn).

The model is loaded once. Fashion-MNIST's test set, when found (``--data-dir`` or the usual
places), backs the page's "random test image" button; without it the button is hidden.
"""

from __future__ import annotations

import argparse
import logging
import socket

from scratchnet.app.commands.common import UsageError, add_data_dir, bounded_int

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a trained model: a web page and a JSON API (FastAPI + uvicorn)",
        description="Serve MODEL_DIR at http://HOST:PORT/: a page to classify a photo or a "
        "drawing with the saliency map, and POST /api/predict, GET /api/model, GET /healthz "
        "(OpenAPI docs at /docs). Uploads are limited in bytes (--max-upload-mb) and in "
        "pixels (40 megapixels, read from the image header).",
    )
    p.add_argument("model_dir", help="model directory written by `scratchnet train`")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)")
    p.add_argument("--port", type=bounded_int(0, 65535), default=DEFAULT_PORT,
                   help=f"TCP port (default: {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--max-upload-mb", type=bounded_int(1, 1024), default=10,
                   help="largest image file accepted, in MB (default: 10)")
    p.add_argument("--max-concurrent", type=bounded_int(1, 64), default=4,
                   help="images decoded and classified at the same time (default: 4)")
    add_data_dir(p)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from scratchnet.app.serve.app import create_app
    except ImportError as exc:
        raise UsageError(f"serve needs FastAPI and uvicorn ({exc.name} is missing): "
                         "pip install 'scratchnet[serve]'") from None
    from scratchnet.estimator.model_dir import load_model

    model = load_model(args.model_dir)
    _configure_logging()
    log = logging.getLogger("scratchnet.serve")
    test_images = _test_images(args.data_dir, log)
    app = create_app(model, max_upload_bytes=args.max_upload_mb * 2**20,
                     test_images=test_images, max_concurrent=args.max_concurrent)
    sock = _listen(args.host, args.port)
    port = sock.getsockname()[1]
    log.info("serving %s at http://%s:%d/ (Ctrl-C stops)", args.model_dir, args.host, port)
    config = uvicorn.Config(app, access_log=False, log_level="warning", log_config=None)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then re-raised the Ctrl-C
        pass
    finally:
        sock.close()
    log.info("stopped")  # Ctrl-C is how a server is meant to end: exit status 0
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a busy port or a wrong address is one line (and
    ``--port 0`` tells which port it got) rather than uvicorn's log and exit."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: unknown address ({exc.strerror})") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another "
                         "server there? try --port)") from None
    return sock


def _test_images(data_dir, log):
    from scratchnet.app.datasets import DatasetError, load_fashion_mnist

    try:
        return load_fashion_mnist("test", data_dir=data_dir)
    except (DatasetError, OSError) as exc:
        if data_dir is not None:  # asked for explicitly: say it is wrong
            raise UsageError(f"--data-dir: {exc}") from None
        log.info("no Fashion-MNIST test set found (%s): the random-image button is hidden",
                 " ".join(str(exc).split()))
        return None


def _configure_logging() -> None:
    """One line per event on stderr, the request log included."""
    logger = logging.getLogger("scratchnet.serve")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
