"""`make bench`: every hot path against its baseline, in one run, with Slack's limits on.

Prints the measurements, one ratio per line, and a JSON line last. `--scale` shrinks every
size (members, rounds stay) to fit a slower machine; the defaults are issue 11's sizes.
`--only burst,memory` measures just those rows (burst, fanout, digests, memory), e.g. on a
quiet moment.
PostgreSQL is measured too when COHERENCE_BENCH_POSTGRES_URL names an empty database, or
on a fresh database on the server COHERENCE_TEST_POSTGRES_URL names (`make bench` starts a
throwaway one when PostgreSQL is installed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time

from benchmarks import burst, digests, fanout, memory
from benchmarks.harness import fresh_postgres_database, slack_with_members, sqlite_url

BURST_MEMBERS = 200
FANOUT_MEMBERS = 1000
ROUNDS = 3
POSTGRES_VARIABLE = "COHERENCE_BENCH_POSTGRES_URL"
POSTGRES_SERVER_VARIABLE = "COHERENCE_TEST_POSTGRES_URL"


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (0-1]")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="bursts per database")
    parser.add_argument(
        "--only", default="", help="comma-separated rows to measure (default: every row)"
    )
    options = parser.parse_args(argv)
    only = {row.strip() for row in options.only.split(",") if row.strip()}

    def wanted(row: str) -> bool:
        return not only or row in only

    # 200 simultaneous requests are what is measured, not something to warn about.
    logging.getLogger("waitress").setLevel(logging.ERROR)
    started = time.monotonic()
    figures: dict[str, object] = {"scale": options.scale}

    if wanted("burst"):
        figures |= _bursts(options.scale, options.rounds)

    if wanted("fanout"):
        members = max(2, round(FANOUT_MEMBERS * options.scale))
        slack = slack_with_members(members)
        try:
            with tempfile.TemporaryDirectory() as folder:
                figures["fanout"] = fanout.report(
                    fanout.measure(slack, sqlite_url(folder), members)
                )
        finally:
            slack.stop()

    if wanted("digests"):
        groups = max(2, round(digests.GROUPS * options.scale))
        scheduled = max(2, round(digests.SCHEDULED_GROUPS * options.scale))
        figures["digests"] = digests.report(*digests.measure(groups, scheduled), groups)

    if wanted("memory"):
        slack = slack_with_members(2)
        try:
            figures["idle_rss"] = memory.report(*memory.measure(slack))
        finally:
            slack.stop()

    figures["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures, sort_keys=True))
    return figures


def _bursts(scale: float, rounds: int) -> dict[str, object]:
    """The answer burst on SQLite and, when a server is at hand, on PostgreSQL."""
    figures: dict[str, object] = {}
    members = max(2, round(BURST_MEMBERS * scale))
    slack = slack_with_members(members)
    try:
        with tempfile.TemporaryDirectory() as folder:
            measured = burst.measure(slack, sqlite_url(folder), members, rounds)
        figures["burst_sqlite"] = burst.report("SQLite", members, measured)
    finally:
        slack.stop()
    postgres = os.environ.get(POSTGRES_VARIABLE)
    if not postgres and os.environ.get(POSTGRES_SERVER_VARIABLE):
        postgres = fresh_postgres_database(os.environ[POSTGRES_SERVER_VARIABLE])
    if postgres:
        slack = slack_with_members(members)
        try:
            measured = burst.measure(slack, postgres, members, rounds)
            figures["burst_postgres"] = burst.report("PostgreSQL", members, measured)
        finally:
            slack.stop()
    else:
        print(f"PostgreSQL burst not measured: set {POSTGRES_VARIABLE} or run make bench")
    return figures


if __name__ == "__main__":
    main()
