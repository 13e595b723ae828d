"""The CDK's own log lines, made to say whose they are and said once per sync.

- The CDK's backoff lines ("UserDefinedBackoffException: Rate limit exceeded (HTTP 400).
  Retrying in 2.0 seconds.", "Caught retryable error ...") name neither vendor nor endpoint, and
  call every retry a rate limit. :class:`NameTheRequest`, a filter on the ``airbyte`` logger they
  are logged with (and on the ``backoff`` library's, for its "Backing off ..." lines), rewrites
  them in the thread that sent the request: the vendor and path of the request that thread sent
  last (:func:`~source_usage.core.limits.current_request`; the path
  only, never the query) and whether the retry is for a rate limit, as the error handler said.
- The source reads each stream with the CDK's ``AbstractSource.read`` (several side by side,
  each in its own thread), which says "Starting syncing <source>", "Finished syncing ..." and
  its timings for each; :func:`stream_logger` is the logger a stream's read gets instead, without
  them, and the source says them once for the sync.
"""

from __future__ import annotations

import logging

from source_usage.core.cdk import CDK_BACKOFF_LINE, CDK_BACKOFF_MODULE
from source_usage.core.limits import SentRequest, current_request

#: The ``backoff`` library's own logger, which the CDK leaves on for its exponential backoff
#: ("Backing off _send(...) for 1.0s (...)", "Giving up _send(...) after 6 tries (...)").
_BACKOFF_LIBRARY = "backoff"


def backoff_line(message: str, sent: SentRequest) -> str:
    """``message`` of the CDK's backoff handlers, naming ``sent``'s vendor and path."""
    where = f"{sent.vendor} {sent.path}"
    match = CDK_BACKOFF_LINE.match(message)
    if match is None:
        return f"{where}: {message}"
    rate_limited = sent.ledger.retrying_for_rate_limit if sent.ledger is not None else True
    reason = "rate limit exceeded" if rate_limited is not False else "retryable error"
    status = f" (HTTP {match['status']})" if match["status"] else ""
    return f"{where}: {reason}{status}. Retrying in {match['seconds']} seconds."


class NameTheRequest(logging.Filter):
    """Rewrites the CDK's backoff lines to name the request's vendor and path (see the module)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.module != CDK_BACKOFF_MODULE and record.name != _BACKOFF_LIBRARY:
            return True
        sent = current_request()
        if sent is not None:
            record.msg, record.args = backoff_line(record.getMessage(), sent), None
        return True


NAME_THE_REQUEST = NameTheRequest()


def name_backoff_requests() -> None:
    """Install :data:`NAME_THE_REQUEST` on the loggers of backoff lines (once; again is a no-op)."""
    for name in ("airbyte", _BACKOFF_LIBRARY):
        logging.getLogger(name).addFilter(NAME_THE_REQUEST)


class OncePerSync(logging.Filter):
    """Drops the lines the CDK's read says once per read, for a read of one stream of many."""

    def __init__(self, source_name: str) -> None:
        super().__init__()
        self.source_name = source_name

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message == f"Starting syncing {self.source_name}"
            or message.startswith("Finished syncing ")
            or message.startswith(f"{self.source_name} runtimes:")
        )


def stream_logger(logger: logging.Logger, source_name: str) -> logging.Logger:
    """A child of ``logger`` for the read of one stream: the same lines, without those the sync
    says once (``Starting syncing``, ``Finished syncing``, the runtimes)."""
    child = logger.getChild("stream")
    if not any(isinstance(existing, OncePerSync) for existing in child.filters):
        child.addFilter(OncePerSync(source_name))
    return child
