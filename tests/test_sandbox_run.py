"""`make run` with no Slack tokens plays the sandbox scenario and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_without_tokens_plays_the_sandbox_and_exits_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,  # no .env here
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "LOCAL SLACK SANDBOX" in out
    assert "How to connect" in out or "To connect a real workspace" in out
    # The help reply as a virtual user sees it: ephemeral, readable, not JSON.
    assert "(only visible to Alice Berger)" in out
    assert "/coherence trend" in out
    assert '{"' not in out
    # Set up through the admin's real paths: the setup modal, prefilled, then priorities.
    assert "modal for Dana Admin: Coherence setup" in out
    assert "(•) One message in the channel" in out
    assert "made #exec-team a leadership group: weekly on Mon at 09:00" in out
    assert "added 'Enterprise expansion'" in out
    # A week in full: a channel pulse with progress, DMs at each director's 09:00, reminders,
    # the close and a refused late answer.
    assert "0 of 7 answered" in out
    assert "DM with Chie Tanaka" not in out  # Chie is an executive: her pulse is in the channel
    assert "DM with Kenji Sato  Coherence:" in out
    # Tokyo's DMs go out at 09:00 in Tokyo (its real zone, summer time or not), under its heading.
    tokyo = out.split("Monday 09:00 in Tokyo")[1].split("Monday 09:00 in Berlin")[0]
    assert "DM with Kenji Sato" in tokyo
    assert "(only visible to Grace Kim)" in out
    assert "has closed" in out
    assert "This pulse closed at Wed 7 Oct, 16:00 JST" in out
    # A week away (issue 15): Ben sets it himself, only he is told; that week's pulse counts
    # him out ("· 1 away", never who) and nothing reaches him.
    away = out.split("Ben Okafor is off next week")[1].split("Week 9 ")[0]
    assert "`/coherence away 2026-11-23..2026-11-27`" in away
    assert "(only visible to Ben Okafor)" in away
    assert "You're away Mon 23 Nov 2026 to Fri 27 Nov 2026" in away
    assert "Closed · 6 of 6 answered · 1 away" in away
    assert "Nothing reached Ben Okafor this week: no pulse, no reminder" in away
    # Twelve weeks later (issue 9: long enough for coherence under pressure): both digests
    # (with their trend charts) and the organisation digest, with the executive team's visible
    # drift flagged, its coherence breaking in its pressured weeks while the directors' holds.
    assert "Week 12 of 12" in out
    assert "Coherence digest · #exec-team · Mon 21 Dec 2026" in out
    assert "Coherence digest · #directors · Mon 21 Dec 2026" in out
    assert "uploaded coherence-exec-team-2026-12-21.png" in out
    assert "Attention moved to *Cost discipline*" in out
    assert "⚠️ *Coherence breaks under pressure*" in out
    assert "*Coherence holds under pressure*" in out
    assert "#directors holds under pressure" in out
    assert "#exec-team breaks under pressure" in out
    assert "Coherence across the organisation" in out
    assert "#leadership-ops" in out
    # The organisation at a glance (issue 15): the heatmap in the org digest's thread, its
    # figures in words in the digest.
    assert "#leadership-ops  Coherence uploaded coherence-heatmap-2026-12-21.png" in out
    assert "*#exec-team · Executive* (21 Dec): Reinforcement" in out
    # Acting on results (issue 15): Alice commits under week 11's digest with Farid as owner,
    # week 12's digest asks about it with a Done button, Farid marks it done.
    committed = out.split("Alice Berger presses Commit")[1].split("Week 12 of 12")[0]
    assert "modal for Alice Berger: Commit" in committed
    assert "@Alice Berger recorded a commitment: “Budget decisions come to the" in committed
    last = out.split("Week 12 of 12")[1].split("Farid Haddad clicks Done")[0]
    asked = last.split("*Last week's commitments* — was each one done?")[1].split("[ Commit ]")[0]
    assert "owner @Farid Haddad · from the 14 Dec digest" in asked
    assert "[ Done ]" in asked
    assert (
        "The digest now reads: ✅ “Budget decisions come to the Monday leadership meeting "
        "before they land” — owner @Farid Haddad · done by @Farid Haddad on 24 Dec" in out
    )
    # Dana's App Home: every group, its next send, its last figures, the audit trail.
    assert "Home tab for Dana Admin:" in out
    assert "Next pulse: Mon 28 Dec, 09:00 CET (your time)." in out
    assert "Last pulse (21 Dec): response rate 86% · coherence index 40" in out
    assert "Recent changes" in out
    # The export of every group brings the organisation heatmap with the CSV (issue 15).
    export = out.split("Dana runs `/coherence export` in #leadership-ops")[1]
    assert "DM with Dana Admin  Coherence uploaded coherence-export-2026-12-24.csv" in export
    assert "DM with Dana Admin  Coherence uploaded coherence-heatmap-2026-12-21.png" in export
