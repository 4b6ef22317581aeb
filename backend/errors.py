"""The one base class of errors whose message is meant for the user as it is.

Every layer raises its own subclass (ConfigError, UploadError, StoreError ...); the CLI prints them, the GUI
shows them, and anything else is an unexpected error that is logged with its traceback.
"""

from __future__ import annotations


class CsvDropError(Exception):
    """An error whose ``str()`` says what went wrong and what to do, ready to show to the user."""
