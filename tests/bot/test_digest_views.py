"""Digest views stay inside Block Kit's limits at any size, and post through the sandbox."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
from PIL import Image
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.messenger import SlackMessenger
from bot.views.chart import trend_chart_png
from bot.views.digest import (
    MAX_BLOCKS,
    blocks_as_dicts,
    digest_blocks,
    layer_groups_text,
    org_digest_blocks,
    sparkline,
    status_blocks,
    trend_blocks,
)
from bot.views.message import SlackDigest
from pulses.organisation import LayerSummary, OrgDigest, org_digest
from pulses.privacy import Suppressed
from pulses.reports import GroupDigest, group_digest, group_status
from sandbox import SlackSandbox
from sandbox.blockkit import validate_message_blocks, validate_message_text
from storage.db import session_scope
from tests.conftest import BOT_TOKEN
from tests.pulses.seed import DIMENSIONS, Seeded, seed_group, seed_org, seed_run, uniform, weekly

NOW = datetime(2026, 6, 1, tzinfo=UTC)
START = date(2026, 1, 5)


def _huge_digest(engine: Engine) -> GroupDigest:
    """40 long-named priorities, 200 leaders each leaving a long friction comment, 14 weeks."""
    rng = random.Random(40)
    names = [f"Priority {i:02d} " + "x" * 60 for i in range(40)]
    with session_scope(engine) as session:
        org = seed_org(session, priorities=names)
        group = seed_group(session, org, name="g" * 255)
        for week, day in enumerate(weekly(START, 14)):
            answers = [
                Seeded(
                    scores={key: rng.randint(1, 5) for key in DIMENSIONS},
                    # The focus moves through the priorities week by week: many drift flags.
                    focus=names[(i + week * 7) % 40] if i % 3 else names[week % 40],
                    friction=f"comment {i} <b>&" + "y" * 990,
                )
                for i in range(200)
            ]
            seed_run(session, org, group, day, answers, invited=220)
        group_id = group.id
    assert group_id is not None
    with session_scope(engine) as session:
        return group_digest(session=session, group_id=group_id, now=NOW)


def _many_groups(engine: Engine) -> OrgDigest:
    """30 groups, each its own layer (435 layer pairs), some too small to show."""
    rng = random.Random(30)
    with session_scope(engine) as session:
        org = seed_org(session, priorities=[f"P{i}" for i in range(40)])
        for g in range(30):
            group = seed_group(
                session,
                org,
                channel_id=f"C{g:04d}",
                name=f"group-{g}-" + "n" * 200,
                layer=f"Layer {g} " + "l" * 50,
            )
            size = 3 if g % 7 == 0 else rng.randint(5, 12)
            answers = [
                Seeded({k: rng.randint(1, 5) for k in DIMENSIONS}, f"P{rng.randrange(40)}")
                for _ in range(size)
            ]
            seed_run(session, org, group, START, answers)
        workspace_id = org.workspace_id
    with session_scope(engine) as session:
        return org_digest(session=session, workspace_id=workspace_id)


def _check(text: str, blocks: list[dict[str, Any]]) -> None:
    assert validate_message_blocks(blocks) == []
    assert validate_message_text(text) == []
    assert len(blocks) <= MAX_BLOCKS


def test_a_digest_with_40_priorities_and_200_comments_stays_within_block_kit(
    engine: Engine, sandbox: SlackSandbox
) -> None:
    digest = _huge_digest(engine)
    assert digest.latest is not None
    assert len(digest.latest.friction) == 200
    text, blocks = digest_blocks(digest)
    dicts = blocks_as_dicts(blocks)
    _check(text, dicts)
    rendered = json.dumps(dicts)
    assert "more comments" in rendered
    assert "more priorities" in rendered
    assert "<b>" not in rendered  # comments are escaped, not interpreted as markup

    poster = SlackMessenger(WebClient(token=BOT_TOKEN, base_url=sandbox.api_url))
    message = poster.render_digest(digest)
    assert isinstance(message, SlackDigest)
    ts = poster.post_digest(message, channel="C0EXEC", marker=None)
    posted = [m for m in sandbox.messages("C0EXEC") if m.ts == ts]
    assert len(posted) == 1
    assert posted[0].blocks == message.blocks
    assert [(f.channel, f.thread_ts) for f in sandbox.files] == [("C0EXEC", ts)]
    assert sandbox.files[0].content.startswith(b"\x89PNG")


def test_an_org_digest_of_30_groups_stays_within_block_kit(
    engine: Engine, sandbox: SlackSandbox
) -> None:
    digest = _many_groups(engine)
    assert len(digest.groups) == 30
    text, blocks = org_digest_blocks(digest)
    dicts = blocks_as_dicts(blocks)
    _check(text, dicts)
    client = WebClient(token=BOT_TOKEN, base_url=sandbox.api_url)
    assert client.chat_postMessage(channel="C0DIRS", text=text, blocks=dicts)["ok"]


def test_status_and_trend_of_a_huge_history_stay_within_block_kit(engine: Engine) -> None:
    digest = _huge_digest(engine)
    with session_scope(engine) as session:
        status = group_status(session=session, group_id=digest.group.group_id, now=NOW)
    for text, blocks in (status_blocks(status), trend_blocks(list(digest.history), 52)):
        _check(text, blocks_as_dicts(blocks))


def test_sparkline_maps_the_index_to_eight_levels_with_gaps(engine: Engine) -> None:
    digest = _huge_digest(engine)
    history = list(digest.history)
    hidden = history[0].__class__(run_id=0, occurrence_day=START, metrics=Suppressed(threshold=5))
    line = sparkline([*history, hidden])
    assert len(line) == len(history) + 1
    assert line[-1] == "·"
    for char, report in zip(line, history, strict=False):
        index = report.coherence_index
        assert index is not None
        assert char == "▁▂▃▄▅▆▇█"[min(7, int(index / 12.5))]


@pytest.mark.parametrize("runs", [1, 14])
def test_the_trend_chart_is_a_png(engine: Engine, runs: int) -> None:
    digest = _huge_digest(engine)
    png = trend_chart_png(list(digest.history)[-runs:])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (880, 396)  # 8 × 3.6 inches at 110 dpi
        # Opaque, and still more than a few colours after the palette (lines, their edges).
        rgb = image.convert("RGB")
        assert min(rgb.getpixel((0, 0))) >= 250  # white, give or take the palette's rounding
        assert len(rgb.getcolors(maxcolors=256) or []) > 8


@pytest.mark.parametrize(
    ("groups", "included", "expected"),
    [
        (1, 1, "1 group"),
        (3, 3, "3 groups"),
        (3, 2, "2 of 3 groups; 1 hidden: too few answers"),
        (2, 0, "0 of 2 groups; 2 hidden: too few answers"),
    ],
)
def test_a_layer_says_how_many_of_its_groups_it_pools(
    groups: int, included: int, expected: str
) -> None:
    layer = LayerSummary(
        name="Directors", groups=groups, included=included, metrics=Suppressed(threshold=5)
    )
    assert layer_groups_text(layer) == expected


def test_a_declared_change_shows_on_the_digest_with_its_reason(engine: Engine) -> None:
    from pulses.priorities import PriorityEdits, PriorityRow, apply_priorities

    with session_scope(engine) as session:
        org = seed_org(session, priorities=("Expansion", "Cost"), weights=(3.0, 1.0))
        group = seed_group(session, org)
        seed_run(session, org, group, START, [Seeded(uniform(4), "Expansion")] * 5)
        expansion, cost = org.priorities["Expansion"], org.priorities["Cost"]
        assert expansion.id is not None
        assert cost.id is not None
        apply_priorities(
            session=session,
            workspace_id=org.workspace_id,
            group=group,
            edits=PriorityEdits(
                rows=(
                    PriorityRow(expansion.id, "Expansion", 1.0, 1.0),
                    PriorityRow(cost.id, "Cost", 3.0, 2.0),
                ),
                reason="Cash first <until> the Series C",
            ),
            user_id="U0ADMIN",
            now=datetime(2026, 1, 8, 10, tzinfo=UTC),
        )
        group_id = group.id
    with session_scope(engine) as session:
        digest = group_digest(session=session, group_id=group_id, now=NOW)
    rendered = json.dumps(blocks_as_dicts(digest_blocks(digest)[1]), ensure_ascii=False)
    assert "*Declared changes of priorities*" in rendered
    assert "8 Jan: Cost 75%, Expansion 25% — “Cash first &lt;until&gt; the Series C”" in rendered
