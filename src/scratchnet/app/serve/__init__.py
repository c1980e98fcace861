"""``scratchnet serve``: a web page and a JSON API for a trained model (FastAPI + uvicorn).

:func:`create_app` builds the application; :mod:`.inference` computes the answers (the same
preprocessing and probabilities as ``scratchnet predict``, plus the saliency map);
:mod:`.limits` bounds request bodies and logs one line per request; ``static/`` holds the page
(plain HTML, JavaScript and CSS, no build step, nothing fetched from elsewhere).
"""

from __future__ import annotations


def create_app(*args, **kwargs):
    """See :func:`scratchnet.app.serve.app.create_app` (imported on use: FastAPI is optional)."""
    from scratchnet.app.serve.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["create_app"]
