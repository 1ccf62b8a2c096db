"""The three-step v2 file upload, driven by slack_sdk's files_upload_v2."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox import SlackSandbox


def test_files_upload_v2_end_to_end(client: WebClient, sandbox: SlackSandbox) -> None:
    response = client.files_upload_v2(
        channel="C0EXEC",
        content=b"\x89PNG fake",
        filename="x.png",
        title="Alignment",
        initial_comment="This week's chart",
    )
    assert response["file"]["title"] == "Alignment"
    [uploaded] = sandbox.files
    assert (uploaded.name, uploaded.title, uploaded.content) == (
        "x.png",
        "Alignment",
        b"\x89PNG fake",
    )
    assert (uploaded.channel, uploaded.initial_comment) == ("C0EXEC", "This week's chart")
    [message] = sandbox.messages("C0EXEC")
    assert message.file_ids == [uploaded.id]
    assert [c.method for c in sandbox.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_completing_an_upload_that_never_happened_fails(client: WebClient) -> None:
    file_id = client.files_getUploadURLExternal(filename="x.png", length=3)["file_id"]
    with pytest.raises(SlackApiError) as raised:
        client.files_completeUploadExternal(
            files=[{"id": file_id, "title": "x"}], channel_id="C0EXEC"
        )
    assert raised.value.response["error"] == "file_not_found"


def test_upload_to_a_channel_without_the_bot_is_refused(
    client: WebClient, sandbox: SlackSandbox
) -> None:
    sandbox.workspace.add_channel("C0RANDOM", "random", [], bot_is_member=False)
    with pytest.raises(SlackApiError) as raised:
        client.files_upload_v2(channel="C0RANDOM", content=b"abc", filename="a.txt")
    assert raised.value.response["error"] == "not_in_channel"
    assert sandbox.files == []
