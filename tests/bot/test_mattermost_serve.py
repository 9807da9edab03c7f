"""`digestbot serve` with Mattermost alone, as an operator runs it: the real CLI in a child
process, a subscription every minute over the seeds, the stand-in as the Mattermost server.

The one slow test of this platform: it waits for the next minute's slot (at most ~70 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.platforms.mattermost.render import MAX_POST, escape
from digests.store import Store
from tests.bot.discord_standin import serving
from tests.bot.mattermost_standin import MattermostStandIn

TOKEN = "serve-cmd-token"
WAIT_FOR_DIGEST = 150.0  # seconds: the next minute's slot, polling the seeds, a loaded machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.5)


def test_serve_posts_the_scheduled_digest_and_answers_brief(
    config_dir: Path, tmp_path: Path
) -> None:
    async def main() -> None:
        api = MattermostStandIn()
        async with serving(api.app()) as base, httpx.AsyncClient(timeout=30) as client:
            (config_dir / "subscriptions.toml").write_text(
                "[[subscription]]\nname = 'mm-every-minute'\nplatform = 'mattermost'\n"
                f"channel = '{base}/hooks/seeds1'\ncron = '* * * * *'\n"
            )
            port = _free_port()
            data = tmp_path / "data"
            env = {
                **os.environ,
                "DIGESTBOT_CONFIG_DIR": str(config_dir),
                "DIGESTBOT_DATA_DIR": str(data),
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "MATTERMOST_URL": base,
                "MATTERMOST_COMMAND_TOKEN": f"other-token,{TOKEN}",
            }
            for name in list(env):
                if name.startswith(("SLACK_", "DISCORD_")):
                    del env[name]
            log = (tmp_path / "serve.log").open("w")
            proc = subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import main; main()", "serve"],
                env=env,
                stdout=log,
                stderr=log,
            )
            bot = f"http://127.0.0.1:{port}"
            try:

                async def healthy() -> bool:
                    assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                    try:
                        return (await client.get(f"{bot}/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await _until(healthy, 60)

                async def posted() -> bool:
                    assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                    return bool(api.in_channel("ch-seeds1"))

                await _until(posted, WAIT_FOR_DIGEST)
                await asyncio.sleep(2)  # every part of the digest
                posts = api.in_channel("ch-seeds1")
                assert all(len(p.message) <= MAX_POST for p in posts)
                assert posts[0].message.startswith("### News digest")
                text = "\n".join(p.message for p in posts)
                store = Store.open(f"sqlite:///{data / 'digestbot.db'}")
                try:
                    titles = [a.title for a in store.articles.since(0, limit=100)]
                finally:
                    store.close()
                assert len(titles) == 5 and all(escape(t) in text for t in titles)

                form = {"token": TOKEN, "text": "taiwan", "command": "/brief",
                        "channel_id": "c1", "response_url": f"{base}/response/1"}  # fmt: skip
                answer = await client.post(f"{bot}/mattermost/command", data=form)
                assert answer.status_code == 200
                reply = answer.json()
                if "Working on a brief" in reply["text"]:  # slower than the inline budget
                    reply = await asyncio.wait_for(api.responses.get(), 60)
                # Cited: numbered citations and the sources they point to (seeds have no URL).
                assert reply["text"].startswith("#### Brief: taiwan")
                assert "\\[1\\]" in reply["text"] and "**Sources**\n1. " in reply["text"]

                wrong = await client.post(
                    f"{bot}/mattermost/command", data={**form, "token": "nope"}
                )
                assert wrong.status_code in (401, 403)
                await asyncio.sleep(0.5)
                assert api.responses.empty()
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                log.close()

    asyncio.run(main())
