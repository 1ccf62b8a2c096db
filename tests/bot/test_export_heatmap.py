"""`/coherence export` of every group brings the organisation heatmap with the CSV, through the
sandbox; an export of one group's channel brings its CSV only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from bot.views.heatmap import heatmap_of, heatmap_png
from pulses.organisation import org_digest
from sandbox import SlackSandbox
from storage.db import session_scope
from tests.bot.test_admin import command, reply
from tests.bot.test_heatmap import DUE, _seed
from tests.conftest import RunningBot

ADMIN = "U0ADMIN"
OPS = "C0LEADOPS"


def test_an_export_of_every_group_brings_the_heatmap_a_row_per_group_hidden_blank(
    bot: RunningBot, sandbox: SlackSandbox
) -> None:
    workspace_id = _seed(bot.engine)
    sandbox.workspace.add_channel(OPS, "leadership-ops", [ADMIN])
    bot.clock.now = DUE + timedelta(days=1)

    answer = reply(command(sandbox, ADMIN, "export", channel=OPS))
    assert "every group" in answer
    assert "the CSV and the heatmap arrive in our direct messages" in answer
    sandbox.wait_for(lambda s: len(s.files) == 2)
    table, heatmap = sandbox.files
    assert (table.name, heatmap.name) == (
        "coherence-export-2026-03-06.csv",
        "coherence-heatmap-2026-03-02.png",
    )
    assert heatmap.title == "Coherence heatmap"
    # One message in the admin's DM carries both, saying what the heatmap shows.
    assert table.channel == heatmap.channel == sandbox.dm_channel(ADMIN)
    [message] = [m for m in sandbox.messages(sandbox.dm_channel(ADMIN)) if m.file_ids]
    assert message.file_ids == [table.id, heatmap.id]
    assert "a hidden group's row is blank" in message.text

    # The CSV has no row for the hidden group; the heatmap has its row, blank and labelled.
    rows = list(csv.DictReader(io.StringIO(table.content.decode())))
    assert sorted(row["group"] for row in rows) == ["directors", "exec-team"]
    with session_scope(bot.engine) as session:
        grid = heatmap_of(org_digest(session=session, workspace_id=workspace_id))
    assert [(row.label, row.hidden) for row in grid.rows] == [
        ("#directors · Directors", False),
        ("#ops · Directors", True),
        ("#exec-team · Executives", False),
    ]
    assert grid.rows[1].cells == ()  # no figure for the hidden group
    # The image posted is that grid drawn: the same pixels as the org digest's heatmap.
    assert heatmap.content == heatmap_png(grid)


def test_an_export_of_one_group_brings_its_csv_only(bot: RunningBot, sandbox: SlackSandbox) -> None:
    _seed(bot.engine)
    bot.clock.now = DUE + timedelta(days=1)
    answer = reply(command(sandbox, ADMIN, "export", channel="C0DIRS"))
    assert "Exporting the aggregates of #directors: the CSV arrives" in answer
    sandbox.wait_for(lambda s: len(s.files) == 1)
    [table] = sandbox.files
    assert table.name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(table.content.decode())))
    assert [row["group"] for row in rows] == ["directors"]
