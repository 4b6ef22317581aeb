"""The shell of `csvdrop` without a stack: every command parses and has help, the one error channel (message,
exit code, never a traceback), the settings it reads, and the console script entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import backend.cli
from backend.cli import csvdrop, main
from backend.errors import CsvDropError

Invoke = Callable[..., Result]

# Every command as a user types it, with the options it has had since the argparse CLI.
COMMAND_OPTIONS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("stack", "up"): (),
    ("stack", "down"): (),
    ("stack", "status"): ("--json",),
    ("stack", "logs"): ("--service", "--lines"),
    ("config",): ("--json",),
    ("setup",): ("--notify-email",),
    ("teardown",): ("--yes",),
    ("upload",): ("--wait", "--timeout"),
    ("list",): ("--json", "--status", "--warnings", "--name", "--limit", "--sort", "--ascending"),
    ("show",): ("--bucket", "--json"),
    ("notices",): ("--follow", "-f", "--json"),
    ("reconcile",): ("--dry-run",),
}


@pytest.fixture()
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """Runs `csvdrop ARGS` in-process with settings from a config file of the test's own: no CSVDROP_*
    variable of the developer's shell, never ~/.config or ~/.local."""
    for name in list(os.environ):
        if name.startswith("CSVDROP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CSVDROP_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CSVDROP_STATE_DIR", str(tmp_path / "state"))
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(csvdrop, list(args), input=input, catch_exceptions=False)

    return run


def _failing_reconcile(error: BaseException) -> Callable[..., object]:
    def reconcile(*_args: object, **_kwargs: object) -> object:
        raise error

    return reconcile


# ------------------------------------------------------------------------------------------ parsing and help
def test_root_help_lists_every_command_in_order(invoke: Invoke) -> None:
    done = invoke("--help")
    assert done.exit_code == 0, done.output
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.startswith("  ")]
    assert listed[:9] == ["stack", "config", "setup", "teardown", "upload", "list", "show", "notices", "reconcile"]
    assert "_CSVDROP_COMPLETE=bash_source csvdrop" in done.stdout
    assert invoke("-h").stdout == done.stdout


@pytest.mark.parametrize("command", sorted(COMMAND_OPTIONS), ids=" ".join)
def test_every_command_has_help_with_its_options(invoke: Invoke, command: tuple[str, ...]) -> None:
    done = invoke(*command, "--help")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(f"Usage: csvdrop {' '.join(command)} ")
    for option in COMMAND_OPTIONS[command]:
        assert option in done.stdout, f"{option} missing from `csvdrop {' '.join(command)} --help`"


def test_stack_lists_its_actions_in_order(invoke: Invoke) -> None:
    done = invoke("stack", "--help")
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.startswith("  ")]
    assert listed == ["up", "down", "status", "logs"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list", "--bogus"), "csvdrop: No such option '--bogus'"),
        (("nosuch",), "csvdrop: No such command 'nosuch'"),
        (("list", "--status", "DONE"), "csvdrop: Invalid value for '--status'"),
        (("list", "--limit", "many"), "csvdrop: Invalid value for '--limit'"),
        (("stack", "logs", "--service", "redis"), "csvdrop: Invalid value for '--service'"),
        (("upload",), "csvdrop: Missing argument 'FILES...'"),
        (("show",), "csvdrop: Missing argument 'KEY'"),
        (("upload", "a.csv", "--timeout", "soon"), "csvdrop: Invalid value for '--timeout'"),
    ],
)
def test_usage_errors_exit_2_with_usage_and_message(invoke: Invoke, args: tuple[str, ...], message: str) -> None:
    done = invoke(*args)
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    assert done.stderr.startswith("Usage: csvdrop")
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [(), ("stack",)])
def test_a_group_without_a_command_shows_its_help(invoke: Invoke, args: tuple[str, ...]) -> None:
    done = invoke(*args)
    assert done.exit_code == 2
    assert "Commands:" in done.stderr


# ------------------------------------------------------------------------------------------ the error channel
def test_a_csvdrop_error_exits_2_with_its_message(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.reconcile.reconcile", _failing_reconcile(CsvDropError("the bucket is gone")))
    done = invoke("reconcile")
    assert (done.exit_code, done.stdout, done.stderr) == (2, "", "csvdrop: the bucket is gone\n")


def test_an_unexpected_error_exits_1_with_its_message_and_no_traceback(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("backend.reconcile.reconcile", _failing_reconcile(RuntimeError("disk on fire")))
    done = invoke("reconcile")
    assert (done.exit_code, done.stderr) == (1, "csvdrop: disk on fire\n")
    monkeypatch.setattr("backend.reconcile.reconcile", _failing_reconcile(KeyError()))
    assert invoke("reconcile").stderr == "csvdrop: KeyError\n"  # an error without words still says something


def test_ctrl_c_exits_130(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.reconcile.reconcile", _failing_reconcile(KeyboardInterrupt()))
    done = invoke("reconcile")
    # click first ends the terminal's "^C" echo with a newline
    assert (done.exit_code, done.stderr.lstrip("\n")) == (130, "csvdrop: interrupted\n")


@pytest.mark.parametrize("error", [CsvDropError("user-facing"), RuntimeError("unexpected")])
def test_csvdrop_debug_raises_instead(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    monkeypatch.setattr("backend.reconcile.reconcile", _failing_reconcile(error))
    monkeypatch.setenv("CSVDROP_DEBUG", "1")
    with pytest.raises(type(error)):
        invoke("reconcile")
    monkeypatch.setenv("CSVDROP_DEBUG", "0")
    assert invoke("reconcile").exit_code in (1, 2)


def test_main_returns_the_exit_code_instead_of_exiting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("backend.reconcile.reconcile", _failing_reconcile(CsvDropError("nope")))
    assert main(["reconcile"]) == 2
    assert capsys.readouterr().err == "csvdrop: nope\n"
    assert main(["--help"]) == 0
    assert main(["list", "--bogus"]) == 2


def test_the_command_modules_are_listed_not_registered_by_import() -> None:
    from backend.cli import config, files, notices, reconcile, records, setup, stack, upload

    assert backend.cli.COMMAND_MODULES == (stack, config, setup, upload, records, notices, reconcile, files)
    commands = [command for module in backend.cli.COMMAND_MODULES for command in module.COMMANDS]
    assert list(csvdrop.commands.values()) == commands
    assert all(isinstance(command, click.Command) for command in commands)


# ------------------------------------------------------------------------------------------ config
def test_config_json_reads_the_file_and_the_environment(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config.toml").write_text('[csvdrop]\nbucket = "from-the-file"\nmysql_port = 3399\n')
    monkeypatch.setenv("CSVDROP_REGION", "eu-west-1")
    monkeypatch.setenv("CSVDROP_MYSQL_ADMIN_PASSWORD", "hunter2-secret")
    done = invoke("config", "--json")
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)  # exactly one JSON document, nothing around it
    assert (shown["bucket"], shown["mysql_port"], shown["region"]) == ("from-the-file", 3399, "eu-west-1")
    assert shown["config_path"] == str(tmp_path / "config.toml")
    assert shown["endpoint_url"] == "http://127.0.0.1:4566"
    assert shown["mysql_admin_password"] == "***" and "hunter2" not in done.output
    assert "\x1b[" not in done.stdout


def test_config_plain_is_aligned_key_value_lines(invoke: Invoke, tmp_path: Path) -> None:
    done = invoke("config")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    width = max(len(line.split()[0]) for line in lines)
    assert f"{'bucket':<{width}}  my-csv-bucket" in lines
    assert f"{'state_dir':<{width}}  {tmp_path / 'state'}" in lines
    assert lines[-1].startswith("endpoint_url")


def test_config_rendered_for_a_terminal_is_a_table(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend.cli._common.stdout_is_terminal", lambda: True)
    done = invoke("config")
    assert done.exit_code == 0, done.output
    assert "SETTING" in done.stdout and "my-csv-bucket" in done.stdout and "─" in done.stdout
    assert json.loads(invoke("config", "--json").stdout)["bucket"] == "my-csv-bucket"  # --json: never a table


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"CSVDROP_MYSQL_PORT": "abc"}, "csvdrop: setting 'mysql_port' must be a whole number, got 'abc'\n"),
        ({"CSVDROP_MODE": "cloud"}, "csvdrop: setting 'mode' must be 'local' or 'aws', got 'cloud'\n"),
    ],
)
def test_a_bad_setting_is_a_user_error(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, setup: dict[str, str], message: str
) -> None:
    for name, value in setup.items():
        monkeypatch.setenv(name, value)
    done = invoke("config")
    assert (done.exit_code, done.stderr) == (2, message)


def test_a_broken_config_file_is_a_user_error_but_help_still_works(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("this is = = not toml")
    done = invoke("config", "--json")
    assert done.exit_code == 2 and done.stderr.startswith(f"csvdrop: config file {tmp_path / 'config.toml'}")
    assert invoke("list", "--help").exit_code == 0


# ------------------------------------------------------------------------------------------ entry points
def test_the_console_script_and_python_m_run_the_same_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSVDROP_")}
    env["CSVDROP_CONFIG"] = str(tmp_path / "config.toml")
    script = Path(sys.executable).parent / "csvdrop"
    for command in ([str(script)], [sys.executable, "-m", "backend.cli"]):
        done = subprocess.run(
            [*command, "config", "--json", "--bogus"], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 2 and "csvdrop: No such option '--bogus'" in done.stderr, done.stderr
        done = subprocess.run([*command, "config", "--json"], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0 and json.loads(done.stdout)["bucket"] == "my-csv-bucket", done.stderr


def test_shell_completion_is_clicks_own(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSVDROP_")}
    env.update(_CSVDROP_COMPLETE="bash_complete", COMP_WORDS="csvdrop li", COMP_CWORD="1")
    script = Path(sys.executable).parent / "csvdrop"
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "plain,list" in done.stdout.splitlines(), done.stdout + done.stderr
    env.update(COMP_WORDS="csvdrop list --sort row_", COMP_CWORD="3")
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=False)
    assert "plain,row_count" in done.stdout.splitlines(), done.stdout + done.stderr
    env.update(_CSVDROP_COMPLETE="bash_source")
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=False)
    assert "_csvdrop_completion" in done.stdout
