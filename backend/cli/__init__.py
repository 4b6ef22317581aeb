"""`csvdrop`: the command line of CSV Drop.

One module per command group (below); each lists its commands in ``COMMANDS`` and the root group adds them in
the order of ``COMMAND_MODULES``, so nothing registers itself by being imported. What the modules share (the
error channel, settings, output helpers) is in ``_common``.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from backend.cli import config, files, notices, reconcile, records, setup, stack, upload
from backend.cli._common import PROG_NAME, CsvDropGroup, configure_logging

COMMAND_MODULES = (stack, config, setup, upload, records, notices, reconcile, files)

EPILOG = """\
Exit codes: 0 done; 1 a file or step failed (or an unexpected error); 2 a usage error or an error with a
message for you; 3 `stack status` found a service down; 130 interrupted (Ctrl-C).

Settings come from defaults, ~/.config/csvdrop/config.toml (or $CSVDROP_CONFIG) and CSVDROP_* variables;
`csvdrop config` shows them. Set CSVDROP_DEBUG=1 for tracebacks, CSVDROP_LOG_LEVEL=DEBUG for logs.

\b
Shell completion (bash; zsh_source and fish_source for those shells):
eval "$(_CSVDROP_COMPLETE=bash_source csvdrop)"
"""


@click.group(
    PROG_NAME,
    cls=CsvDropGroup,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)
def csvdrop() -> None:
    """CSV Drop: check CSV files locally and upload them to S3, where a Lambda profiles each into the metadata
    database and announces it on SNS. Runs on LocalStack or real AWS."""


for _module in COMMAND_MODULES:
    for _command in _module.COMMANDS:
        csvdrop.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """The `csvdrop` console script: runs one command and returns its exit code (errors are printed, not raised)."""
    configure_logging()
    code: int = csvdrop.main(args=argv, prog_name=PROG_NAME, standalone_mode=False)
    return code
