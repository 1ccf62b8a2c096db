"""A batch of group digests computed and laid out in the drawing process (`bot.drawer`).

The serving process used to compute each batch and hand the digests over to be drawn, so the
compute, about half of its share of a digest wave, took turns on its interpreter lock with
the posts and the answers' acks, while the drawing process waited. Here the drawing process
opens the same database, computes the batch and draws it on the other core, while the serving
process claims and posts the batch before (`make bench`: 100 digests through the scheduler in
2.3 s instead of 2.7-3.4).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.views.message import SlackDigest, group_digest_message
from pulses.digest_batches import DigestBatch
from pulses.flags import FlagThresholds
from storage.db import make_engine


class DrawingFailed(Exception):
    """A digest the drawing process could not compute or draw: the error and its traceback
    as text, so it always comes back across the process boundary (not every exception can be
    pickled) and is logged where it is handled."""


# The drawing process's engine: the serving process has one database, opened here once.
_engine: tuple[str, Engine] | None = None


def _engine_for(url: str) -> Engine:
    global _engine
    if _engine is None or _engine[0] != url:
        if _engine is not None:
            _engine[1].dispose()
        _engine = (url, make_engine(url))
    return _engine[1]


def _failed(error: BaseException) -> DrawingFailed:
    return DrawingFailed("".join(traceback.format_exception(error)).rstrip())


def compute_and_draw(
    database_url: str, group_ids: Sequence[int], now: datetime, thresholds: FlagThresholds
) -> list[tuple[int, SlackDigest | DrawingFailed]]:
    """Each group with its digest's message, or with why there is none."""
    batch = DigestBatch(_engine_for(database_url), tuple(group_ids), now, thresholds)
    drawn: list[tuple[int, SlackDigest | DrawingFailed]] = []
    for group_id, digest in batch.compute():
        if isinstance(digest, Exception):
            drawn.append((group_id, _failed(digest)))
            continue
        try:
            drawn.append((group_id, group_digest_message(digest)))
        except Exception as error:
            drawn.append((group_id, _failed(error)))
    return drawn
