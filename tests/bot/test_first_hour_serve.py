"""The first hour of a real `digestbot serve` (issue 25, part 1): a `/brief` sent the moment
`/healthz` answers sees the seeds, and a file dropped into the inbox while it runs is in the
every-minute digest. Real processes: `digestbot serve` as a child, the Slack stand-in."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from testkit.feedsim import Replica, start_replica
from testkit.slack_requests import SECRET, command_body, signed_headers
from testkit.slack_stub import SlackStub

DROPPED_TITLE = "Harbour pilots strike over night shifts in Rotterdam"
DROPPED = {
    "title": DROPPED_TITLE,
    "source": "Harbour Times",
    "text": (
        "Harbour pilots in Rotterdam stopped work on Thursday in a dispute over night shifts. "
        "The pilots' union said its members had worked more than sixty nights in a row. "
        "Shipping companies warned that dozens of vessels were waiting outside the port. "
        "The port authority said talks with the union would resume on Friday morning."
    ),
}


def _serve(config_dir: Path, tmp_path: Path, stub: SlackStub, **env: str) -> Replica:
    database = f"sqlite:///{tmp_path / 'data' / 'serve.db'}"
    (tmp_path / "data").mkdir(exist_ok=True)
    return start_replica(
        config_dir,
        database,
        name="serve",
        wait=False,
        env={
            "DIGESTBOT_INBOX": str(tmp_path / "seeds"),
            "SLACK_API_URL": stub.api_url,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": "xoxb-test",
            **env,
        },
    )


def _first_healthy(replica: Replica, timeout: float = 90) -> None:
    """Return the moment /healthz answers 200 (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert replica.process.poll() is None, replica.log.read_text()[-2000:]
        try:
            if httpx.get(replica.url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("serve did not answer /healthz in time")


def test_brief_sent_as_soon_as_healthz_answers_cites_the_seeds(
    config_dir: Path, tmp_path: Path, slack_stub: SlackStub
) -> None:
    replica = _serve(config_dir, tmp_path, slack_stub)
    try:
        _first_healthy(replica)
        body = command_body("taiwan", response_url=slack_stub.response_url("first"))
        sent = httpx.post(
            replica.url + "/slack/events", content=body, headers=signed_headers(body), timeout=10
        )
        assert sent.status_code == 200
        [answer] = slack_stub.wait_for("response:first", timeout=60)
        text = json.dumps(answer.params)
        assert "Nothing stored" not in text, text
        sections = [b for b in answer.params["blocks"] if b["type"] == "section"]
        assert sections and "Taiwan" in text
        ready = httpx.get(replica.url + "/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["articles"] == 5
    finally:
        replica.stop()


def test_a_file_dropped_while_serve_runs_is_in_the_every_minute_digest(
    config_dir: Path, tmp_path: Path, slack_stub: SlackStub
) -> None:
    (config_dir / "subscriptions.toml").write_text(
        '[[subscription]]\nname = "every-minute"\nplatform = "slack"\nchannel = "C1"\n'
        'topics = []\ncron = "* * * * *"\nthread = false\n'
    )
    replica = _serve(config_dir, tmp_path, slack_stub, DIGESTBOT_LOG_FORMAT="json")
    try:
        _first_healthy(replica)
        time.sleep(3)  # the watcher is watching: its start-up rescan is over
        dropped_at = time.monotonic()
        (tmp_path / "seeds" / "rotterdam.json").write_text(json.dumps(DROPPED))

        def arrived() -> bool:
            return DROPPED_TITLE in json.dumps(slack_stub.posted("C1"))

        slack_stub.wait_until(arrived, timeout=150)
        took = time.monotonic() - dropped_at
        assert took < 150, took
        time.sleep(1)  # the send's log line follows the post
        records = [json.loads(line) for line in replica.log.read_text().splitlines()]
        messages = [r["message"] for r in records]
        # Picked up by the watcher at once (its ingest line names the file), not by a poll.
        assert any(
            m.startswith("folder ingest: 1 added") and "(rotterdam.json)" in m for m in messages
        ), messages
        # One line per digest run and one per send.
        runs = [m for m in messages if m.startswith("digest every-minute for ")]
        assert any(m.endswith("queued (1 article in 1 message)") for m in runs), runs
        assert any(m.startswith("sent slack C1 part 0") for m in messages), messages
    finally:
        replica.stop()
