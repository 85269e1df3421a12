"""Logging filters of the shell (LOGGING in tandem/settings.py)."""

import logging


class No403Traceback(logging.Filter):
    """Keep a refused access (403) to its one line: Django logs PermissionDenied
    with its traceback, which under DEBUG=0 fills the log at every refusal."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
