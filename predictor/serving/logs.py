"""One logging setup for the predictor, KServe and uvicorn: readable lines on stdout.

Per-request lines (KServe's latency trace and uvicorn's access log) are off unless asked
for: each costs about a kilobyte of output and a measurable share of throughput.
A request refused because of the client (every 4xx) or because it asks for something this
model does not offer (501) is logged as one WARNING line, not an ERROR with a traceback (canary
for KServe's way: ``tests/upstream/test_logging.py``). FastAPI's per-request deprecation
warning for KServe's response class is silenced (canary: same file).
"""

from __future__ import annotations

import logging
import logging.config
import warnings

from kserve.errors import InvalidInput, ModelNotFound, UnsupportedProtocol

from predictor.serving.rejection import request_line
from predictor.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# KServe's exception -> the status its REST server answers it with (kserve/errors.py).
CLIENT_ERRORS = (
    (InvalidInput, 400),
    (ModelNotFound, 404),
    (UnsupportedProtocol, 501),
    (NotImplementedError, 501),
)
# fastapi >= 0.128 warns on every response rendered with KServe's ORJSONResponse.
ORJSON_DEPRECATION = "ORJSONResponse is deprecated"


class ClientErrorFilter(logging.Filter):
    """Turn KServe's ERROR+traceback for a client's mistake into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        for kind, status in CLIENT_ERRORS:
            if isinstance(error, kind):
                where = request_line()
                record.msg = "rejected request (%d)" + (f" {where}" if where else "") + ": %s"
                record.args = (status, error)
                record.exc_info, record.exc_text = None, None
                record.levelno, record.levelname = logging.WARNING, "WARNING"
                break
        return True


def silence_known_warnings() -> None:
    """Only FastAPI's deprecation of the response class KServe chose, nothing else."""
    from fastapi.exceptions import FastAPIDeprecationWarning

    warnings.filterwarnings(
        "ignore", message=ORJSON_DEPRECATION, category=FastAPIDeprecationWarning, module="fastapi"
    )


def configure_logging(settings: Settings) -> None:
    """Configure every logger the server uses; call once, before the server starts."""
    silence_known_warnings()
    level, quiet = settings.log_level, "WARNING"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"client_errors": {"()": ClientErrorFilter}},
            "formatters": {"plain": {"format": LOG_FORMAT}},
            "handlers": {
                "stdout": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stdout",
                    "formatter": "plain",
                    "filters": ["client_errors"],
                }
            },
            "loggers": {
                "kserve": {"handlers": ["stdout"], "level": level, "propagate": False},
                "kserve.trace": {
                    "handlers": ["stdout"],
                    "level": "INFO" if settings.enable_latency_logging else quiet,
                    "propagate": False,
                },
                "uvicorn": {"handlers": ["stdout"], "level": level, "propagate": False},
                "uvicorn.error": {"level": level},
                # No handler at all when off: uvicorn then skips building the line's
                # arguments (client address, quoted path) for every response.
                "uvicorn.access": {
                    "handlers": ["stdout"] if settings.enable_access_log else [],
                    "level": "INFO" if settings.enable_access_log else quiet,
                    "propagate": False,
                },
                "predictor": {"handlers": ["stdout"], "level": level, "propagate": False},
            },
        }
    )
