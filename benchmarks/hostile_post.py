"""Server memory for an unsigned 200 MB POST (issue #12), measured on a real `digestbot serve`.

    python -m benchmarks.hostile_post [--mb 200]

Starts `digestbot serve` (Slack + Discord configured, Slack stand-in on loopback) as a child,
POSTs ``--mb`` MB of junk to each endpoint with a Content-Length and chunked, and prints the
answer and the server's peak RSS growth (VmHWM after − VmRSS before, /proc). To measure another
checkout, run it with ``PYTHONPATH=/path/to/checkout``: the server child inherits it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from nacl.signing import SigningKey

from testkit.processes import MiB, post_stream, serve_digestbot
from testkit.slack_stub import SlackStub

PATHS = ("/slack/events", "/discord/interactions")  # the signed POST endpoints

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    slack = SlackStub().start()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "config", root / "config")
        (root / "seeds").mkdir()
        env = {
            "DIGESTBOT_DATA_DIR": str(root / "data"),
            "DIGESTBOT_INBOX": str(root / "seeds"),
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": slack.api_url,
            "DISCORD_PUBLIC_KEY": SigningKey.generate().verify_key.encode().hex(),
            "DISCORD_APPLICATION_ID": "1",
        }
        with serve_digestbot(root / "config", env=env) as server:
            print("| endpoint | body | answer | bytes sent | server RSS growth | time |")
            print("|---|---|---|---|---|---|")
            for path in PATHS:
                for chunked in (False, True):
                    time.sleep(0.3)
                    before = server.rss()
                    server.reset_peak()
                    started = time.monotonic()
                    answer, sent = post_stream(
                        server.port, path, total=args.mb * MiB, chunked=chunked
                    )
                    took = time.monotonic() - started
                    growth = (server.peak_rss() - before) / MiB
                    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "(none)"
                    kind = "chunked" if chunked else "Content-Length"
                    print(
                        f"| {path} | {args.mb} MB, {kind} | {status} | {sent / MiB:.0f} MB "
                        f"| {growth:+.0f} MiB | {took:.1f} s |"
                    )
    slack.stop()


if __name__ == "__main__":
    main()
