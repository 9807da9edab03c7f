"""Peak RSS of fetching a gzip bomb from a loopback server: digestbot's fetcher vs httpx's decoding.

    python -m benchmarks.gzip_bomb [--gib 1]

Serves ``--gib`` GiB of zeros gzipped once (``Content-Encoding: gzip``) and twice
(``gzip, gzip``) on 127.0.0.1, then fetches each in a fresh child process and prints the
child's peak RSS (``ru_maxrss``) and what it answered. ``httpx`` is the path digestbot used
before issue #12 (``Response.iter_bytes()`` inflates each network chunk through every coding
before the caller can count it, here stopped at the same 15 MiB cap); ``digestbot`` is
``digests.net.fetch.Fetcher``.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHILDREN = {
    "httpx": """
import sys, httpx
cap, body = 15 << 20, 0
with httpx.Client() as client, client.stream("GET", sys.argv[1]) as resp:
    for chunk in resp.iter_bytes():
        body += len(chunk)
        if body > cap:
            print("refused: over the cap"); break
    else:
        print("fetched", body)
""",
    "digestbot": """
import sys
from digests.errors import FetchError
from digests.net.fetch import Fetcher
with Fetcher(allow_private_networks=True, deadline=120) as fetcher:
    try:
        print("fetched", len(fetcher.fetch(sys.argv[1]).content))
    except FetchError as exc:
        print("refused:", exc)
""",
}
_PEAK = (
    "import resource,subprocess,sys;"
    "p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
    "print(p.stdout.strip() or p.stderr.strip().splitlines()[-1]);"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _gzip_stream(chunks: int) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(chunks)), packer.flush()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    args = parser.parse_args()
    inner = _gzip_stream(int(args.gib * 1024))
    outer_packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    outer = outer_packer.compress(inner) + outer_packer.flush()
    bodies = {"/gzip": (inner, "gzip"), "/gzip-gzip": (outer, "gzip, gzip")}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            body, coding = bodies[self.path]
            self.send_response(200)
            self.send_header("Content-Encoding", coding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(
        f"{args.gib:g} GiB of zeros; wire sizes: "
        + ", ".join(f"{path} {len(body):,} B" for path, (body, _) in bodies.items())
    )
    print("| path | Content-Encoding | system | answer | peak RSS |")
    print("|---|---|---|---|---|")
    for path, (_, coding) in bodies.items():
        for name, code in CHILDREN.items():
            run = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _PEAK, sys.executable, "-c", code, base + path],
                capture_output=True,
                text=True,
                check=True,
            )
            answer, kib = run.stdout.strip().rsplit("\n", 1)
            print(f"| {path} | {coding} | {name} | {answer[:60]} | {int(kib) / 1024:.0f} MiB |")
    server.shutdown()


if __name__ == "__main__":
    main()
