"""The organisation heatmap: posted in the org digest's thread through the sandbox, one row per
group, a hidden group's row blank and labelled, and the same figures in words."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from matplotlib.image import imread
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.messenger import SlackMessenger
from bot.views.heatmap import HIDDEN, heatmap_figure, heatmap_lines, heatmap_of
from pulses.digests import send_due_digests
from pulses.organisation import org_digest
from sandbox import SlackSandbox
from storage.db import session_scope
from tests.conftest import BOT_TOKEN
from tests.pulses.seed import Seeded, seed_group, seed_org, seed_run, uniform

CLOSED = datetime(2026, 3, 4, 10, tzinfo=UTC)
DUE = datetime(2026, 3, 5, 12, tzinfo=UTC)


def _seed(engine: Engine) -> int:
    """Three groups over two layers: two shown, one hidden (three answers, threshold five)."""
    with session_scope(engine) as session:
        org = seed_org(session)
        execs = seed_group(session, org, layer="Executives", timezone="Europe/Berlin")
        directors = seed_group(
            session, org, channel_id="C0DIRS", name="directors", layer="Directors"
        )
        small = seed_group(session, org, channel_id="C0SMALL", name="ops", layer="Directors")
        day = date(2026, 3, 2)
        seed_run(session, org, execs, day, [Seeded(uniform(5), "Hiring")] * 6, closes_at=CLOSED)
        seed_run(session, org, directors, day, [Seeded(uniform(2), "Hiring")] * 6, closes_at=CLOSED)
        seed_run(session, org, small, day, [Seeded(uniform(1), "Hiring")] * 3, closes_at=CLOSED)
        return org.workspace_id


def _grey(pixel: tuple[float, ...]) -> bool:
    red, green, blue = pixel[:3]
    return max(red, green, blue) - min(red, green, blue) < 0.03


def test_the_heatmap_is_posted_with_the_org_digest_a_row_per_group_and_hidden_blank(
    engine: Engine, sandbox: SlackSandbox
) -> None:
    workspace_id = _seed(engine)
    sandbox.workspace.add_channel("C0SMALL", "ops", ["U0ADMIN"])
    messenger = SlackMessenger(WebClient(token=BOT_TOKEN, base_url=sandbox.api_url))
    posted = send_due_digests(
        engine=engine, messenger=messenger, now=DUE, org_channels={workspace_id: "C0EXEC"}
    )
    assert posted == 4  # three group digests (ops' says it is hidden), then the org's
    [org_message] = [
        m for m in sandbox.messages("C0EXEC") if m.thread_ts is None and "organisation" in m.text
    ]
    [heatmap] = [f for f in sandbox.files if f.title == "Coherence heatmap"]
    assert heatmap.thread_ts == org_message.ts
    assert heatmap.name == "coherence-heatmap-2026-03-02.png"
    image = imread(io.BytesIO(heatmap.content), format="png")

    # The same drawing, to find where each cell lies in the posted image.
    with session_scope(engine) as session:
        grid = heatmap_of(org_digest(session=session, workspace_id=workspace_id))
    figure = heatmap_figure(grid)
    figure.canvas.draw()
    assert image.shape[:2] == (int(figure.bbox.height), int(figure.bbox.width))
    [axes] = figure.axes
    # Rows by layer (Directors before Executives), one per group with a closed run.
    assert [label.get_text() for label in axes.get_yticklabels()] == [
        "#directors · Directors",
        "#ops · Directors",
        "#exec-team · Executives",
    ]
    assert [row.hidden for row in grid.rows] == [False, True, False]

    def pixel(column: int, row: int) -> tuple[float, ...]:
        # Low in the cell, clear of the figure's text and the agreement dot.
        x, y = axes.transData.transform((column, row + 0.38))
        return tuple(image[int(image.shape[0] - y), int(x)])

    for column, name in enumerate(grid.columns):
        if name == "Pressure":
            continue  # not asked in this seed: blank for every group
        low, hidden, high = (pixel(column, row) for row in range(3))
        # Coloured by level: red low, green high.
        assert not _grey(low), name
        assert not _grey(high), name
        assert low[0] > low[1], name
        assert high[1] > high[0], name
        assert _grey(hidden), name  # blank: no colour tells a hidden level
    # The hidden row carries its label and no figure at all.
    hidden_texts = [t.get_text() for t in axes.texts if abs(t.get_position()[1] - 1) < 0.5]
    assert hidden_texts == [HIDDEN]
    shown_texts = [t.get_text() for t in axes.texts if abs(t.get_position()[1]) < 0.5]
    assert "2.0" in shown_texts
    assert "–" in shown_texts


def test_the_digest_says_the_heatmap_in_words_for_screen_readers(engine: Engine) -> None:
    workspace_id = _seed(engine)
    with session_scope(engine) as session:
        digest = org_digest(session=session, workspace_id=workspace_id)
    lines = heatmap_lines(heatmap_of(digest))
    assert len(lines) == 3
    assert lines[0].startswith("*#directors · Directors* (2 Mar): Reinforcement 2.0")
    assert "Index " in lines[0]
    assert "Pressure –" in lines[0]
    assert lines[1] == f"*#ops · Directors*: {HIDDEN}"
    assert not re.search(r"\d", lines[1])
    from bot.views.digest import org_digest_blocks

    _, blocks = org_digest_blocks(digest)
    shown = "\n".join(str(b.to_dict()) for b in blocks)
    assert lines[2] in shown


def test_no_group_with_a_closed_run_means_no_image(engine: Engine) -> None:
    from bot.views.heatmap import organisation_heatmap

    with session_scope(engine) as session:
        org = seed_org(session)
        seed_group(session, org)
        digest = org_digest(session=session, workspace_id=org.workspace_id)
    assert organisation_heatmap(digest) == (
        None,
        "coherence-heatmap-none.png",
        "Coherence heatmap",
    )


@pytest.mark.parametrize("groups", [1, 25])
def test_the_image_grows_with_the_groups(engine: Engine, groups: int) -> None:
    with session_scope(engine) as session:
        org = seed_org(session)
        for index in range(groups):
            group = seed_group(session, org, channel_id=f"C{index:04d}", name=f"g{index:02d}")
            seed_run(
                session,
                org,
                group,
                date(2026, 3, 2),
                [Seeded(uniform(1 + index % 5), "Hiring")] * 5,
                closes_at=CLOSED - timedelta(days=1),
            )
        grid = heatmap_of(org_digest(session=session, workspace_id=org.workspace_id))
    figure = heatmap_figure(grid)
    [axes] = figure.axes
    assert len(axes.get_yticklabels()) == groups
