"""Log lines: plain text for a terminal, or one JSON object per line for a log shipper.

A JSON line carries ``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``msg`` and the fields a
caller passed in ``extra`` (the access log's ``method``, ``route``, ``status``...). Messages
never hold a secret: the gate logs key ids and codes, never signatures or passphrases."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

#: the attributes every LogRecord has: anything else on a record came from ``extra=``
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "color_message"}  # uvicorn's copy of msg with terminal colours
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage()}
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str, log_format: str, *, access_log: bool = False) -> None:
    """One handler on stderr for Keyseal's loggers and uvicorn's, in the format asked; the
    access log (``keyseal.access``, info) is written whatever the level, when asked for."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # the access log is our own (keyseal.access): uvicorn's would be a second line per request
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("keyseal.access").setLevel(logging.INFO if access_log else logging.WARNING)
    logging.getLogger("keyseal.start").setLevel(logging.INFO)  # "listening on …", always
