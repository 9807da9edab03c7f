"""Issue 24's acceptance, against a real `digestbot serve` (OAuth on, both keys, umask 022).

A feed whose URL holds a password and an ``api_key`` (it answers 500), a Discord webhook
that answers 500 with a delivery waiting for it, and an OAuth redirect: neither secret may
appear in /metrics, /healthz, /readyz, `digestbot sources`, `sources list` or
`status --format json`; files are private; the log holds no OAuth code or state.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from digests.sealing import Sealer
from digests.store import Store
from testkit.processes import digestbot_script, serve_digestbot
from tests.conftest import ROOT

KEY = "an-encryption-key-of-forty-characters!!!"
TOKEN = "metrics-bearer-t0ken"
PASSWORD, API_KEY, HOOK_TOKEN = "hunter2pw", "K3Y-SECRET-77", "WEBHOOK-TOKEN-99"
SECRETS = (PASSWORD, API_KEY, HOOK_TOKEN)


class _Fails(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(500)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def failing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fails)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_no_secret_in_any_output_and_files_are_private(tmp_path: Path, failing_server: str) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    feed = f"http://bob:{PASSWORD}@{failing_server}/rss.xml?api_key={API_KEY}"
    hook = f"http://{failing_server}/api/webhooks/123/{HOOK_TOKEN}"
    (tmp_path / "config" / "sources.toml").write_text(f'[[source]]\nfeed = "{feed}"\n')
    (tmp_path / "seeds").mkdir()
    env = {
        "DIGESTBOT_DATA_DIR": str(tmp_path / "data"),
        "DIGESTBOT_INBOX": str(tmp_path / "seeds"),
        "DIGESTBOT_ALLOW_PRIVATE_NETWORKS": "1",
        "DIGESTBOT_ENCRYPTION_KEY": KEY,
        "DIGESTBOT_METRICS_TOKEN": TOKEN,
        "DIGESTBOT_RETRY_BASE": "0.2",
        "DIGESTBOT_OUTBOX_SWEEP": "0.2",
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_CLIENT_ID": "1.2",
        "SLACK_CLIENT_SECRET": "client-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    # A Discord delivery waiting before start (written in plain, as an older version would).
    old = os.umask(0o022)
    try:
        store = Store.open(f"sqlite:///{tmp_path / 'data' / 'digestbot.db'}")
        store.outbox.enqueue(
            "daily:1", [{"content": "hello"}], platform="discord", channel=hook,
            now=datetime.now(UTC), subscription="daily-news",
        )  # fmt: skip
        store.close()
        with serve_digestbot(tmp_path / "config", env=env) as server:
            shown = _surfaces(server.url, tmp_path, env, server.output)
            log = server.output()
    finally:
        os.umask(old)

    for where, text in shown.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {where}: {text[:500]}"
    health = json.loads(shown["/readyz (token)"])
    retrying = " ".join(health["delivery"]["retrying"])
    assert "daily-news" in retrying  # the failing delivery, named by its subscription
    assert json.loads(shown["/healthz"]) in ({"ok": False}, {"ok": True})
    [source] = json.loads(shown["sources json"])
    assert source["name"] == f"{failing_server}/rss.xml" and source["consecutive_failures"] >= 1
    assert source["location"].startswith("http://***@") and "bob" not in shown["sources list"]
    assert "OAUTH-CODE-1" not in log and "OAUTH-STATE-1" not in log, log
    assert "/slack/oauth_redirect?code=[redacted]&state=[redacted]" in log  # the access line
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
    assert set(modes.values()) == {0o600}, modes
    files = b"".join(p.read_bytes() for p in data.iterdir())
    assert HOOK_TOKEN.encode() not in files
    again = Store.open(f"sqlite:///{data / 'digestbot.db'}", sealer=Sealer(KEY))
    [row] = again.outbox.messages("daily:1")
    assert row.channel.startswith("siv:") and again.sealer.open(row.channel) == hook
    again.close()


def _surfaces(url: str, tmp: Path, env: dict[str, str], output) -> dict[str, str]:  # type: ignore[no-untyped-def]
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=url, timeout=10) as http:
        # Wait until the feed has failed and the Discord send has been tried.
        while True:
            ready = http.get("/readyz", headers=bearer).json()
            metrics = http.get("/metrics", headers=bearer).text
            tried = any("daily-news" in p for p in ready.get("delivery", {}).get("retrying", []))
            if tried and "digestbot_source_consecutive_failures{" in metrics:
                break
            assert time.monotonic() < deadline, (ready, output())
            time.sleep(0.3)
        http.get("/slack/oauth_redirect", params={"code": "OAUTH-CODE-1", "state": "OAUTH-STATE-1"})
        shown = {
            "/metrics": metrics,
            "/metrics (no token)": http.get("/metrics").text,
            "/healthz": http.get("/healthz").text,
            "/readyz": http.get("/readyz").text,
            "/healthz (token)": http.get("/healthz", headers=bearer).text,
            "/readyz (token)": http.get("/readyz", headers=bearer).text,
        }
    cli = [digestbot_script(), "--config", str(tmp / "config")]
    full = {**os.environ, **env}
    for name, args in {
        "sources": ["sources"],
        "sources json": ["sources", "--format", "json"],
        "sources list": ["sources", "list"],
        "sources list json": ["sources", "list", "--format", "json"],
        "status": ["status", "--format", "json"],
    }.items():
        done = subprocess.run([*cli, *args], env=full, capture_output=True, text=True, timeout=60)
        shown[name] = done.stdout + done.stderr
    return shown
