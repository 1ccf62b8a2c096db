"""Logging set-up: quiet INFO, text or JSON lines, request context, and no secrets."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

# Slack tokens and signatures have recognisable shapes; mask them wherever they slip in.
# Bot, user, app-level and refresh tokens (`xoxe.xoxp-…`, `xoxe-…`), and `v<n>=` signatures.
_SECRET = re.compile(
    r"\b(xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|v\d+=[0-9a-f]{16,})"
)
# Slack user IDs identify people; structured logs leave the building (log pipelines,
# vendors), so they carry none.
_USER_ID = re.compile(r"\b[UW][A-Z0-9]{8,}\b")

# Libraries whose INFO lines repeat on every tick or start (APScheduler's "Running job" and
# "executed successfully", Alembic's context and plugin lines): shown only at DEBUG.
_CHATTY = ("apscheduler", "alembic")
# Libraries whose lines can carry whole request or response bodies or query parameters
# (answers, user IDs), at the least level that stays quiet: Bolt and the HTTP libraries at
# DEBUG, SQLAlchemy's echo (statements with their parameters) from INFO.
_BODY_LOGGERS = {
    "slack_bolt": logging.INFO,
    "waitress": logging.INFO,
    "urllib3": logging.INFO,
    "sqlalchemy": logging.WARNING,
}
# slack_sdk's DEBUG lines say which method was called and how it went, then dump the body.
_SDK_CALL = re.compile(
    r"(Sending a request - url: \S+?|Received the following response - status: \d+),"
)

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_workspace: ContextVar[str | None] = ContextVar("workspace", default=None)


@contextmanager
def request_context(*, request_id: str, workspace: str | None) -> Iterator[None]:
    """Tag every log line written while handling one request."""
    request_token = _request_id.set(request_id)
    workspace_token = _workspace.set(workspace)
    try:
        yield
    finally:
        _request_id.reset(request_token)
        _workspace.reset(workspace_token)


_P = ParamSpec("_P")
_T = TypeVar("_T")


class ContextExecutor(ThreadPoolExecutor):
    """Bolt's listener executor, carrying the request's log context into its threads.

    Bolt acks on the request thread and runs listeners (lazy ones too) on this pool; without
    the copied context their log lines would lose the request id and workspace.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="bolt-listener")

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)  # type: ignore[arg-type]


class RedactSecrets(logging.Filter):
    """Masks tokens and signatures in the message and in an attached traceback (an exception's
    text can quote a token, e.g. a URL or a library's error)."""

    _traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET.search(message):
            record.msg = _SECRET.sub("[redacted]", message)
            record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the masked text is what they print.
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _SECRET.sub("[redacted]", record.exc_text)
        return True


class DropBodies(logging.Filter):
    """Keeps the method and status of slack_sdk's DEBUG lines, without the bodies they carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("slack_sdk") and record.levelno <= logging.DEBUG:
            call = _SDK_CALL.match(record.getMessage())
            if call:
                record.msg, record.args = call.group(1), None
        return True


class DropKnownNoise(logging.Filter):
    """Drops Bolt's start-up warning that a token will be unused.

    Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that the client we
    hand it wins; that is the intended set-up, not something an operator can act on.
    """

    _NOTICES = frozenset({warning_client_prioritized_and_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("slack_bolt") and record.getMessage() in self._NOTICES)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, workspace."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _USER_ID.sub("[user]", record.getMessage()),
        }
        request_id, workspace = _request_id.get(), _workspace.get()
        if request_id:
            entry["request_id"] = request_id
        if workspace:
            entry["workspace"] = workspace
        if record.exc_info:
            entry["exception"] = _USER_ID.sub("[user]", self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Timestamp, level, logger and message, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = _request_id.get()
        return f"{line} [request {request_id}]" if request_id else line


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(DropKnownNoise())
    handler.addFilter(DropBodies())
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(
            logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
        )
    for name, quiet in _BODY_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet if root.level < quiet else logging.NOTSET)
