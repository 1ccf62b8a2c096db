"""An interaction's form is decoded in C; the text must be what the standard library gives."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus, urlencode

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.guard import _parse_slack_body, _unquote_plus

FORM = "application/x-www-form-urlencoded"
# The characters that matter to percent-decoding, and a few that do not.
ESCAPY = st.text(alphabet="%+=&3DdAaFf09Zz \r\né€\U0001f600", max_size=40)


@settings(max_examples=3000, deadline=None)
@given(ESCAPY)
@example("%%3D")
@example("%4%3D")
@example("%3D%zz")
@example("abc%")
@example("abc%4")
@example("%E2%82")  # an incomplete UTF-8 sequence: replaced, as the standard library does
@example("%e2%82%ac+%2B%3d")
def test_any_value_decodes_as_the_standard_library_decodes_it(value: str) -> None:
    assert _unquote_plus(value) == unquote_plus(value)


def test_a_view_submission_decodes_to_its_json() -> None:
    payload = {
        "type": "view_submission",
        "view": {"private_metadata": "a=b&c=d%", "state": {"values": {"x": {"y": "Zürich 50%"}}}},
    }
    text = urlencode({"payload": json.dumps(payload)})
    assert _parse_slack_body(text, FORM) == payload


def test_a_slash_command_form_keeps_its_fields() -> None:
    text = "command=%2Fcoherence&text=status+payload%3D1&team_id=T1"
    assert _parse_slack_body(text, FORM) == {
        "command": "/coherence",
        "text": "status payload=1",
        "team_id": "T1",
    }
