"""Load test of ``scratchnet serve``: throughput, latency, errors and memory, good and hostile.

Starts ``scratchnet serve MODEL_DIR`` as a real subprocess on 127.0.0.1, then makes two runs of
``--requests`` requests each, ``--concurrency`` in flight at a time (it stops by itself):

1. **good**: real Fashion-MNIST test images uploaded as 112 x 112 PNGs to
   ``POST /api/predict`` (with the saliency map, as the page asks);
2. **mixed**: the same, but every second request is hostile, in equal shares: a pixel bomb (a
   150 KB PNG of 12000 x 12000 pixels), random bytes, a truncated PNG, a text file, and an
   upload over the size limit.

It prints, per run, the throughput, the p50/p99 latency of the good requests, how many good
requests failed (must be 0), what the hostile ones got (status codes; "closed" when the server
cut an oversize upload short before answering), and the server's resident memory (RSS) before
and after the run and its peak. Exit status 1 when a good request failed or the server's peak
RSS passed ``--max-rss-mb``.

    python -m benchmarks.serve runs/mlp                   # 2,000 requests per run, 16 at once
    python -m benchmarks.serve runs/mlp --requests 200    # quick
    python -m benchmarks.serve runs/mlp --screenshot docs/serve.png   # also the README picture
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

HOSTILE = ("pixel bomb", "garbage", "truncated", "text", "oversize")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="model directory (e.g. runs/mlp after `make demo`)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per run")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--max-upload-mb", type=int, default=10)
    parser.add_argument("--max-rss-mb", type=float, default=1024.0,
                        help="fail when the server's peak RSS passes this")
    parser.add_argument("--screenshot", help="also save the page, after an upload, to this PNG")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from scratchnet.app.datasets import load_fashion_mnist

    X, _ = load_fashion_mnist("test")
    rng = np.random.default_rng(args.seed)
    good = [_png(X[i]) for i in rng.choice(X.shape[0], 200, replace=False)]
    hostile = _hostile_uploads(args.max_upload_mb * 2**20, rng)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; server and client share it")
    with _server(args.model_dir, args.max_upload_mb) as (url, pid):
        runs = {}
        for name, mixed in (("good", False), ("mixed", True)):
            jobs = _jobs(args.requests, good, hostile if mixed else None, rng)
            before = _rss_mb(pid)
            stats = asyncio.run(_run(url, jobs, args.concurrency))
            stats.update(rss_before=before, rss_after=_rss_mb(pid), rss_peak=_rss_mb(pid, "VmHWM"))
            runs[name] = stats
            print(_line(name, stats))
        if args.screenshot:
            _screenshot(url, good[0], args.screenshot)
            print(f"screenshot: {args.screenshot}")
    print()
    print(table(runs, args.concurrency))
    failed = sum(s["good_failed"] for s in runs.values())
    peak = max(s["rss_peak"] for s in runs.values())
    if failed or peak > args.max_rss_mb:
        print(f"FAILED: {failed} good requests failed; peak RSS {peak:.0f} MB "
              f"(limit {args.max_rss_mb:.0f} MB)", file=sys.stderr)
        return 1
    return 0


# --- the uploads ------------------------------------------------------------------------------
def _png(pixels: np.ndarray, side: int = 112) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(pixels.reshape(28, 28)).resize((side, side), Image.Resampling.BICUBIC)
    img.save(buf, "PNG")
    return buf.getvalue()


def png_bomb(side: int) -> bytes:
    """A valid PNG of ``side x side`` black pixels in a few hundred KB (the tests use it too)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    row = bytes(side + 1)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def _hostile_uploads(limit: int, rng: np.random.Generator) -> dict[str, bytes]:
    noise = Image.fromarray(rng.integers(0, 256, (128, 128), dtype=np.uint8))
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    return {
        "pixel bomb": png_bomb(12_000),
        "garbage": rng.bytes(64 * 1024),
        "truncated": buf.getvalue()[: len(buf.getvalue()) // 2],
        "text": b"this is a shopping list, not a photo\n" * 20,
        "oversize": rng.bytes(limit + 2**20),
    }


def _jobs(n: int, good: list[bytes], hostile: dict | None, rng) -> list[tuple[str, bytes]]:
    jobs = []
    for i in range(n):
        if hostile is not None and i % 2:
            kind = HOSTILE[(i // 2) % len(HOSTILE)]
            jobs.append((kind, hostile[kind]))
        else:
            jobs.append(("good", good[int(rng.integers(len(good)))]))
    return jobs


# --- the client -------------------------------------------------------------------------------
async def _run(url: str, jobs: list[tuple[str, bytes]], concurrency: int) -> dict:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results: list[tuple[str, str, float]] = []
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(kind: str, data: bytes) -> None:
            async with gate:
                start = time.perf_counter()
                try:
                    r = await client.post("/api/predict", files={"image": ("up.png", data)})
                    outcome = str(r.status_code)
                except httpx.TransportError:  # the server closed an oversize upload
                    outcome = "closed"
                results.append((kind, outcome, time.perf_counter() - start))

        start = time.perf_counter()
        await asyncio.gather(*(one(kind, data) for kind, data in jobs))
        wall = time.perf_counter() - start
    good_ms = np.array([t for k, _, t in results if k == "good"]) * 1000
    outcomes: dict[str, dict[str, int]] = {}
    for kind, outcome, _ in results:
        if kind != "good":
            outcomes.setdefault(kind, {}).setdefault(outcome, 0)
            outcomes[kind][outcome] += 1
    return {"requests": len(jobs), "seconds": wall, "throughput": len(jobs) / wall,
            "good": len(good_ms), "good_failed": sum(k == "good" and o != "200"
                                                      for k, o, _ in results),
            "p50_ms": float(np.percentile(good_ms, 50)),
            "p99_ms": float(np.percentile(good_ms, 99)), "hostile": outcomes}


# --- the server -------------------------------------------------------------------------------
class _server:
    """``scratchnet serve`` in a subprocess on a free loopback port; yields (url, pid)."""

    def __init__(self, model_dir: str, max_upload_mb: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cmd = [sys.executable, "-m", "scratchnet", "serve", str(model_dir), "--port",
                    str(self.port), "--max-upload-mb", str(max_upload_mb)]

    def __enter__(self):
        self.log = open(os.devnull, "w")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 60 s")
            time.sleep(0.1)
        # The request log goes to stderr: drain it so the pipe never fills and blocks the server.
        self.lines = 0

        def count():
            for _ in self.proc.stderr:
                self.lines += 1

        self.reader = threading.Thread(target=count, daemon=True)
        self.reader.start()
        return url, self.proc.pid

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _screenshot(url: str, image: bytes, path: str) -> None:
    import shutil
    import tempfile

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        upload = Path(tmp) / "test-image.png"
        upload.write_bytes(image)
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 700})
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]")
        page.set_input_files("#file-input", str(upload))
        page.wait_for_selector("#result", state="visible")
        page.screenshot(path=path)
        browser.close()


# --- the report -------------------------------------------------------------------------------
def _line(name: str, s: dict) -> str:
    return (f"{name}: {s['requests']} requests in {s['seconds']:.1f} s, "
            f"{s['throughput']:.0f} req/s, good p50 {s['p50_ms']:.0f} ms p99 {s['p99_ms']:.0f} ms, "
            f"{s['good_failed']} good failed, RSS {s['rss_before']:.0f} -> {s['rss_after']:.0f} MB "
            f"(peak {s['rss_peak']:.0f})")


def table(runs: dict, concurrency: int) -> str:
    rows = ["| run | requests | throughput | good p50 | good p99 | good failed | "
            "hostile answers | server RSS before → after (peak) |",
            "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, s in runs.items():
        hostile = "; ".join(f"{kind}: " + ", ".join(f"{o}×{n}" for o, n in sorted(c.items()))
                            for kind, c in s["hostile"].items()) or "–"
        rows.append(f"| {name} | {s['requests']:,} ({concurrency} at once) | "
                    f"{s['throughput']:.0f} req/s | {s['p50_ms']:.0f} ms | {s['p99_ms']:.0f} ms | "
                    f"{s['good_failed']} of {s['good']:,} | {hostile} | "
                    f"{s['rss_before']:.0f} → {s['rss_after']:.0f} MB ({s['rss_peak']:.0f}) |")
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
