"""Pure parts of the csvdrop-local Lambda executor (stdlib-only modules, loaded by path)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lambda_loader import EXECUTOR_DIR as PKG
from lambda_loader import load_executor_module

VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"

interp = load_executor_module("interpreters")
child = load_executor_module("child")


# --- interpreter discovery ---------------------------------------------------------------------------
def test_env_var_name_per_runtime() -> None:
    assert interp.env_var_for("python3.13") == "CSVDROP_LAMBDA_PYTHON_3_13"
    assert interp.env_var_for("python3.9") == "CSVDROP_LAMBDA_PYTHON_3_9"


@pytest.mark.parametrize("runtime", ["nodejs20.x", "java21", "provided.al2023", "", "python2.7"])
def test_non_python_runtimes_are_refused_clearly(runtime: str) -> None:
    with pytest.raises(interp.InterpreterNotFound, match="not supported by the csvdrop-local"):
        interp.find_interpreter(runtime, environ={})


def _fake_home(tmp_path: Path, *versions: str) -> Path:
    for v in versions:
        binary = tmp_path / ".pyenv" / "versions" / v / "bin" / f"python{'.'.join(v.split('.')[:2])}"
        binary.parent.mkdir(parents=True)
        binary.touch()
    return tmp_path


def test_env_override_wins(tmp_path: Path) -> None:
    calls: list[str] = []

    def probe(exe: str, version: str) -> str | None:
        calls.append(exe)
        return "/real/python3.13"

    found = interp.find_interpreter(
        "python3.13",
        environ={"CSVDROP_LAMBDA_PYTHON_3_13": "/opt/py/bin/python3.13"},
        home=tmp_path,
        which=lambda name: "/usr/local/bin/python3.13",
        run_probe=probe,
    )
    assert found == "/real/python3.13"
    assert calls == ["/opt/py/bin/python3.13"]


def test_broken_env_override_is_an_error_not_silently_skipped(tmp_path: Path) -> None:
    with pytest.raises(interp.InterpreterNotFound, match=r"CSVDROP_LAMBDA_PYTHON_3_13=.*not a working Python 3\.13"):
        interp.find_interpreter(
            "python3.13",
            environ={"CSVDROP_LAMBDA_PYTHON_3_13": "/nope"},
            home=tmp_path,
            which=lambda name: None,
            run_probe=lambda exe, v: None,
        )


def test_failing_path_shim_falls_through_to_newest_pyenv_version(tmp_path: Path) -> None:
    home = _fake_home(tmp_path, "3.13.0", "3.13.2", "3.12.1", "3.130.1")
    calls: list[str] = []

    def probe(exe: str, version: str) -> str | None:
        calls.append(exe)
        return None if "shims" in exe else exe

    found = interp.find_interpreter(
        "python3.13",
        environ={},
        home=home,
        which=lambda name: "/root/.pyenv/shims/python3.13",
        run_probe=probe,
    )
    assert calls[0] == "/root/.pyenv/shims/python3.13"
    assert found == str(home / ".pyenv/versions/3.13.2/bin/python3.13")


def test_system_python_is_the_last_resort(tmp_path: Path) -> None:
    found = interp.find_interpreter(
        "python3.12",
        environ={},
        home=tmp_path,
        which=lambda name: None,
        run_probe=lambda exe, v: exe if exe.startswith("/sys") else None,
        system_dir=Path("/sys-bin"),
    )
    assert found == "/sys-bin/python3.12"


def test_nothing_found_names_runtime_env_var_and_candidates(tmp_path: Path) -> None:
    with pytest.raises(interp.InterpreterNotFound) as err:
        interp.find_interpreter(
            "python3.12",
            environ={},
            home=_fake_home(tmp_path, "3.12.1"),
            which=lambda name: "/shims/python3.12",
            run_probe=lambda exe, v: None,
        )
    message = str(err.value)
    assert "python3.12" in message and "CSVDROP_LAMBDA_PYTHON_3_12" in message
    assert "/shims/python3.12" in message and "/usr/bin/python3.12" in message


def test_probe_runs_the_interpreter_and_checks_its_version() -> None:
    version = VERSION
    assert interp.probe(sys.executable, version)
    assert interp.probe(sys.executable, "2.7") is None
    assert interp.probe("/nonexistent/python", version) is None


def test_probe_returns_the_base_interpreter_behind_a_venv(tmp_path: Path) -> None:
    base = interp.probe(sys.executable, VERSION)
    subprocess.run([base, "-m", "venv", "--without-pip", str(tmp_path / "v")], check=True)
    found = interp.probe(str(tmp_path / "v" / "bin" / "python"), VERSION)
    assert found and not found.startswith(str(tmp_path))


# --- child runtime: error shapes, handler loading, context ---------------------------------------------
def _raise_value_error() -> None:
    raise ValueError("bad row 3")


def test_error_payload_has_lambda_shape() -> None:
    try:
        _raise_value_error()
    except ValueError as exc:
        payload = child.error_payload(exc)
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad row 3"
    assert payload["requestId"] == ""
    assert isinstance(payload["stackTrace"], list)
    assert any("_raise_value_error" in line for line in payload["stackTrace"])
    line = child.error_log_line(payload)
    assert line.startswith("[ERROR] ValueError: bad row 3\nTraceback (most recent call last):\n")


def test_error_payload_overrides() -> None:
    payload = child.error_payload(RuntimeError("x"), "Runtime.ImportModuleError", "Unable to import module 'm'")
    assert payload == {
        "errorMessage": "Unable to import module 'm'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert child.error_log_line(payload) == "[ERROR] Runtime.ImportModuleError: Unable to import module 'm'"


def test_failure_payload_typed_errors_have_no_stack_trace() -> None:
    try:
        raise child.TypedError("Runtime.MarshalError", "Unable to marshal response: set")
    except child.TypedError as exc:
        typed = child.failure_payload(exc)
    assert typed["errorType"] == "Runtime.MarshalError" and typed["stackTrace"] == []
    try:
        _raise_value_error()
    except ValueError as exc:
        plain = child.failure_payload(exc)
    assert plain["errorType"] == "ValueError" and plain["stackTrace"]


def test_load_handler_nested_packages_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "lexecpkg" / "inner"
    pkg.mkdir(parents=True)
    (tmp_path / "lexecpkg" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text("def handle(event, context):\n    return event['x'] * 2\nnot_callable = 1\n")
    (tmp_path / "lexec_broken.py").write_text("def f(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    assert child.load_handler("lexecpkg.inner.app.handle")({"x": 21}, None) == 42
    cases = {
        "nohandlername": "Runtime.MalformedHandlerName",
        "lexec_missing_mod.handle": "Runtime.ImportModuleError",
        "lexecpkg.inner.app.nothere": "Runtime.HandlerNotFound",
        "lexecpkg.inner.app.not_callable": "Runtime.HandlerNotFound",
        "lexec_broken.f": "Runtime.UserCodeSyntaxError",
    }
    for spec, error_type in cases.items():
        with pytest.raises(child.TypedError) as err:
            child.load_handler(spec)
        assert err.value.error_type == error_type, spec
    with pytest.raises(child.TypedError, match="Unable to import module 'lexec_missing_mod'"):
        child.load_handler("lexec_missing_mod.handle")


def test_context_reports_function_settings_and_remaining_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "process_csv")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/process_csv")
    ctx = child.LambdaContext("req-1", "arn:aws:lambda:us-east-1:000000000000:function:process_csv", 0)
    assert (ctx.function_name, ctx.function_version, ctx.memory_limit_in_mb) == (
        "process_csv",
        "$LATEST",
        "512",
    )
    assert ctx.aws_request_id == "req-1" and ctx.log_group_name == "/aws/lambda/process_csv"
    assert ctx.get_remaining_time_in_millis() == 0
    ctx = child.LambdaContext("req-2", "arn", int(time.time() * 1000) + 3000)
    assert 2000 < ctx.get_remaining_time_in_millis() <= 3000


def test_frames_round_trip_over_a_pipe_with_large_binary_parts() -> None:
    r, w = os.pipe()
    blob = "é".encode() * 1_000_000
    frames = [
        ({"type": "invoke", "invoke-id": "r1"}, (blob, b"")),
        ({"type": "ready"}, ()),
        ({"type": "result", "error": True}, (b"{}", "log é\n".encode())),
    ]

    def write_frames() -> None:
        for h, parts in frames:
            child.write_all(w, child.encode_frame(h, *parts))
        os.close(w)

    writer = threading.Thread(target=write_frames)
    writer.start()  # a megabyte does not fit the pipe: reader and writer must interleave
    with os.fdopen(r, "rb") as stream:
        got = [child.read_frame(stream) for _ in frames]
        assert child.read_frame(stream) is None  # clean end of stream
    writer.join()
    assert got == [(h, list(parts)) for h, parts in frames]


def test_a_frame_cut_short_is_an_error() -> None:
    data = child.encode_frame({"type": "result"}, b"0123456789")
    with pytest.raises(EOFError):
        child.read_frame(io.BytesIO(data[:-3]))
    with pytest.raises(EOFError):
        child.read_frame(io.BytesIO(data[:2]))


class _Runtime:
    """child.py in a real process, driven over its two pipes as the executor does."""

    def __init__(self, task_root: Path, handler: str) -> None:
        to_child_r, self.to_child = os.pipe()
        from_child, from_child_w = os.pipe()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": handler,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "_CSVDROP_FDS": f"{to_child_r},{from_child_w}",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-s", str(PKG / "child.py")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.answers = os.fdopen(from_child, "rb")
        assert self.proc.stdout is not None  # stdout=PIPE
        self.output = self.proc.stdout

    def next(self) -> tuple[dict, list[bytes]]:
        frame = child.read_frame(self.answers)
        assert frame is not None, self.output.read().decode() if self.proc.poll() is not None else ""
        return frame

    def invoke(self, request_id: str, payload: bytes) -> tuple[dict, list[bytes]]:
        header = {"type": "invoke", "invoke-id": request_id, "deadline-ms": int(time.time() * 1000) + 5000}
        child.write_all(self.to_child, child.encode_frame(header, payload))
        return self.next()

    def close(self) -> int:
        os.close(self.to_child)
        code = self.proc.wait(timeout=10)
        self.answers.close()
        self.output.close()
        return code


def test_child_runtime_serves_invocations_over_its_pipes(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    print('hello', event.get('n'))\n"
        "    if event.get('bad'):\n"
        "        raise ValueError('bad ' + str(event['n']))\n"
        "    if event.get('set'):\n"
        "        return {1, 2}\n"
        "    return {'n': event['n'], 'rid': context.aws_request_id, 'pid': os.getpid(),\n"
        "            'remaining': context.get_remaining_time_in_millis()}\n"
    )
    runtime = _Runtime(tmp_path, "app.handler")
    try:
        assert runtime.next() == ({"type": "ready"}, [])
        header, (body, logs) = runtime.invoke("r1", b'{"n": 1}')
        assert header == {"type": "result", "invoke-id": "r1", "error": False}
        out = json.loads(body)
        assert out["n"] == 1 and out["rid"] == "r1" and 0 < out["remaining"] <= 5000
        lines = logs.decode().splitlines()
        assert lines[0] == "START RequestId: r1 Version: $LATEST" and lines[1] == "hello 1"
        assert lines[2] == "END RequestId: r1" and "Init Duration" in lines[3]
        header, (body, logs) = runtime.invoke("r2", b'{"n": 2, "bad": true}')
        assert header["error"] is True
        err = json.loads(body)
        assert (err["errorType"], err["errorMessage"], err["requestId"]) == ("ValueError", "bad 2", "r2")
        assert "[ERROR] ValueError: bad 2" in logs.decode() and "Init Duration" not in logs.decode()
        header, (body, _) = runtime.invoke("r3", b'{"n": 3, "set": true}')
        assert header["error"] is True and json.loads(body)["errorType"] == "Runtime.MarshalError"
        header, (body, _) = runtime.invoke("r4", b"not json")
        assert header["error"] is True and json.loads(body)["errorType"] == "Runtime.UnmarshalError"
        header, (body, _) = runtime.invoke("r5", b'{"n": 5}')
        assert json.loads(body)["pid"] == out["pid"]  # one warm process throughout
    finally:
        assert runtime.close() == 0  # the end of its input ends the runtime


def test_child_runtime_reports_an_init_error_and_exits(tmp_path: Path) -> None:
    runtime = _Runtime(tmp_path, "nosuchmodule.handler")
    header, (payload,) = runtime.next()
    assert header == {"type": "init-error"}
    assert json.loads(payload)["errorType"] == "Runtime.ImportModuleError"
    assert runtime.close() == 1


def test_max_memory_is_this_process_peak_not_the_forked_parents() -> None:
    assert 1 <= child.max_memory_mb() < 4096


def test_report_line_format() -> None:
    line = child.report_line("abc", 12.345, "256", 101.5)
    assert line.startswith("REPORT RequestId: abc\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 256 MB\t")
    assert "Max Memory Used: " in line and line.endswith("\tInit Duration: 101.50 ms")
    assert "Init Duration" not in child.report_line("abc", 1.0, "128", None)
