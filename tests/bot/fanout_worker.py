"""A separate bot process for exactly-once tests: runs scheduler ticks against a database.

Usage: python -m tests.bot.fanout_worker DATABASE_URL SLACK_API_URL NOW_ISO [TICKS]
"""

from __future__ import annotations

import sys
from datetime import datetime

from pydantic import SecretStr

from bot.app import build_client
from bot.messenger import SlackMessenger
from bot.settings import Settings
from pulses.dispatch import tick
from pulses.ticks import Worker
from storage.db import make_engine
from tests.conftest import BOT_TOKEN


def main(database_url: str, api_url: str, now_iso: str, ticks: str = "1") -> None:
    settings = Settings(_env_file=None, slack_bot_token=SecretStr(BOT_TOKEN), slack_api_url=api_url)
    messenger = SlackMessenger(build_client(settings), posts_per_minute=0)
    engine = make_engine(database_url)
    worker = Worker.for_this_process()
    now = datetime.fromisoformat(now_iso)
    for _ in range(int(ticks)):
        report = tick(engine=engine, messenger=messenger, now=now, worker=worker)
        print(f"sent={report.sent} failed={report.failed} recovered={report.recovered}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
