"""``LocalProcessRuntimeExecutor``: one execution environment = one local Python child process.

LocalStack drives it through the RuntimeExecutor interface. The executor and its child (``child.py``) talk
over a private pair of pipes (length-prefixed frames), not through LocalStack's HTTP gateway: ``invoke()``
writes the invocation and resolves its result from the child's answer directly, so a warm invoke costs
LocalStack no HTTP request at all. stdout/stderr stay the function's output. This side owns what the child
cannot do for itself: the invocation timeout and a crash mid-invoke (it kills the child or notices its death
and fails the pending invocation at once), re-spawning a dead child on the next invoke (a cold start), and
reaping in stop().
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import NAMESPACE, StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

from csvdrop_lambda_executor.child import encode_frame, read_frame
from csvdrop_lambda_executor.interpreters import (
    InterpreterNotFound,
    find_interpreter,
    unsupported_runtime_message,
)

LOG = logging.getLogger(__name__)
CHILD_SCRIPT = str(Path(__file__).with_name("child.py"))
# Pure-python packages the AWS Python runtime ships in /var/runtime; linked from LocalStack's venv.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
MAX_OUTPUT = 1 << 20  # bytes of child output kept for get_logs() and crash/timeout logs
PR_SET_PDEATHSIG = 1

# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, and LocalStack's request threads
# come and go: every child is therefore forked from this one long-lived thread.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="csvdrop-lambda-spawner")
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with_parent(parent_pid: int):
    def preexec() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # LocalStack already gone
            os._exit(1)

    return preexec


@functools.cache
def interpreter_for(runtime: str) -> str:
    """Cached per runtime (failures are not cached: exceptions are not memoized)."""
    return find_interpreter(runtime)


_runtime_dir_lock = threading.Lock()


@functools.cache
def _make_runtime_dir() -> str:
    target = Path(tempfile.gettempdir()) / f"csvdrop-lambda-runtime-{os.getpid()}"
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = find_spec(name)
        if spec is None or spec.origin is None:
            continue
        src = Path(spec.origin)
        src = src.parent if src.name == "__init__.py" else src
        link = target / src.name
        if not link.is_symlink():
            link.symlink_to(src)
    return str(target)


def runtime_dir() -> str:
    """A directory of symlinks to boto3 & co. (the function's /var/runtime); '' when disabled. Made once, under a
    lock: environments start on several threads at once (a burst, concurrent queue batches), and functools.cache
    alone lets each of them run the body (the second symlink_to then failed with FileExistsError)."""
    if os.environ.get("CSVDROP_LAMBDA_PROVIDE_BOTO3", "1") in ("0", "false", "no"):
        return ""
    with _runtime_dir_lock:
        return _make_runtime_dir()


def _check_runtime(function_version: FunctionVersion) -> str:
    """Interpreter of a zip-packaged python function, else InterpreterNotFound/LambdaRuntimeException."""
    cfg = function_version.config
    if cfg.package_type != PackageType.Zip or not cfg.code:
        raise LambdaRuntimeException(unsupported_runtime_message(cfg.runtime))
    return interpreter_for(cfg.runtime or "")


def exit_reason(returncode: int) -> str:
    """Go-style wording used by Lambda's Runtime.ExitError."""
    if returncode < 0:
        name = signal.Signals(-returncode).name.removeprefix("SIG").lower()
        return f"Runtime exited with error: signal: {'killed' if name == 'kill' else name}"
    if returncode == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: exit status {returncode}"


def _resolve(future: Future, value: object) -> None:
    """First answer wins: the child, the watcher and the timeout may race, and stop() may have cancelled it."""
    try:
        future.set_result(value)
    except InvalidStateError:
        pass


def _fail(future: Future, exc: BaseException) -> None:
    try:
        future.set_exception(exc)
    except InvalidStateError:
        pass


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _env_timeout() -> float:
    return float(config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT)


class _Output:
    """Child stdout+stderr with absolute offsets, so an invocation's share can be cut out after a kill."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0
        self._lock = threading.Lock()

    @property
    def end(self) -> int:
        with self._lock:
            return self._base + len(self._buf)

    def append(self, data: bytes) -> None:
        with self._lock:
            self._buf += data
            if len(self._buf) > MAX_OUTPUT:
                drop = len(self._buf) - MAX_OUTPUT
                del self._buf[:drop]
                self._base += drop

    def since(self, offset: int) -> str:
        with self._lock:
            return bytes(self._buf[max(0, offset - self._base) :]).decode(errors="replace")


class _Child:
    """One child process and its channel. Invocation frames are written to ``to_child`` (non-blocking,
    bounded by the invocation's deadline); a reader thread turns the child's frames into the ``startup``
    result and into the result of the executor's pending invocation."""

    def __init__(self, proc: subprocess.Popen, to_child: int, from_child: int) -> None:
        self.proc = proc
        self.to_child = to_child
        self.from_child = from_child
        self.startup: Future[bool] = Future()
        self._lock = threading.Lock()  # a write never races the close (fd numbers are reused)

    def send(self, frame: bytes, deadline: float) -> bool | None:
        """True when written, False when the child is gone, None when the deadline passed first."""
        view = memoryview(frame)
        with self._lock:
            if self.to_child < 0:
                return False
            try:
                while view:
                    try:
                        view = view[os.write(self.to_child, view) :]
                    except BlockingIOError:  # the child is not reading (yet): wait, up to the deadline
                        remaining = deadline - time.time()
                        if remaining <= 0 or not select.select([], [self.to_child], [], remaining)[1]:
                            return None
            except OSError as exc:  # BrokenPipeError: the child is gone
                LOG.debug("csvdrop-local: sending an invocation to pid %s failed: %s", self.proc.pid, exc)
                return False
        return True

    def close_channel(self) -> None:
        """No more invocations: the child sees the end of its input (it exits if still alive)."""
        with self._lock:
            fd, self.to_child = self.to_child, -1
        if fd >= 0:
            os.close(fd)


class _Pending:
    """The invocation in flight: its id, its future, where its output starts, when it started."""

    __slots__ = ("future", "offset", "request_id", "started")

    def __init__(self, request_id: str, offset: int) -> None:
        self.request_id = request_id
        self.future: Future[InvocationResult] = Future()
        self.offset = offset
        self.started = time.perf_counter()


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.output = _Output()
        self.env: dict[str, str] = {}
        self.python = ""
        self.child: _Child | None = None
        self.killed: set[int] = set()  # pids we killed on purpose (timeout, stop)
        self.pending: _Pending | None = None
        self.stopped = False

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.child.proc if self.child else None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        try:
            self.env = self._child_env(env_vars)
        except (InterpreterNotFound, LambdaRuntimeException) as exc:
            payload = {"errorType": "Runtime.InvalidRuntime", "errorMessage": str(exc), "stackTrace": []}
            raise StatusErrorException(str(exc), payload=json.dumps(payload).encode()) from exc
        self._spawn().startup.result(timeout=_env_timeout())

    def stop(self) -> None:
        self.stopped = True
        child, pending = self.child, self.pending
        self._kill()
        if child is not None:
            child.startup.cancel()  # a start() still waiting gives up, as with LocalStack's endpoint
            child.close_channel()
        if pending is not None:
            pending.future.cancel()

    def _child_env(self, env_vars: dict[str, str]) -> dict[str, str]:
        fv = self.function_version
        runtime = fv.config.runtime or ""
        python = _check_runtime(fv)
        version = runtime.removeprefix("python")
        # Later layers win in /opt, so they come first on the path.
        layers = [lay.code.get_unzipped_code_location() for lay in reversed(fv.config.layers) if lay.code]
        layer_paths = [Path(d, "python", "lib", f"python{version}", "site-packages") for d in layers]
        layer_paths += [Path(d, "python") for d in layers]
        env = {k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
        env.setdefault("LANG", "C.UTF-8")
        # The interpreter's bin first; LocalStack's own venv is no part of the function's world.
        own_bin = str(Path(sys.prefix, "bin")) if sys.prefix != sys.base_prefix else None
        host_path = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != own_bin]
        env["PATH"] = os.pathsep.join([str(Path(python).parent), *host_path])
        env.update({k: str(v) for k, v in env_vars.items() if v is not None})
        env["LAMBDA_TASK_ROOT"] = str(fv.config.code.get_unzipped_code_location())
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
        env["_CSVDROP_LAYER_PATHS"] = os.pathsep.join(str(p) for p in layer_paths if p.is_dir())
        if rdir := runtime_dir():
            env["_CSVDROP_RUNTIME_DIR"] = env["LAMBDA_RUNTIME_DIR"] = rdir
        self.python = python
        return env

    def _spawn(self) -> _Child:
        """Start a child and return at once; readiness arrives on the child's ``startup`` future."""
        to_child_r, to_child = os.pipe()  # both non-inheritable; pass_fds hands the child its two ends
        from_child, from_child_w = os.pipe()
        cmd = [self.python, "-s", CHILD_SCRIPT]  # -s: no user site-packages
        try:
            proc = _SPAWNER.submit(
                subprocess.Popen,
                cmd,
                env={
                    **self.env,
                    "_CSVDROP_SPAWNED_AT": str(time.time()),
                    "_CSVDROP_FDS": f"{to_child_r},{from_child_w}",
                },
                cwd=self.env["LAMBDA_TASK_ROOT"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(to_child_r, from_child_w),
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            ).result()
        except BaseException:
            for fd in (to_child, from_child):
                os.close(fd)
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        os.set_blocking(to_child, False)
        child = _Child(proc, to_child, from_child)
        self.child = child
        pid = proc.pid
        output = threading.Thread(target=self._read_output, args=(proc,), name=f"lambda-out-{pid}", daemon=True)
        frames = threading.Thread(target=self._read_frames, args=(child,), name=f"lambda-chan-{pid}", daemon=True)
        output.start()
        frames.start()
        watch = threading.Thread(
            target=self._watch, args=(child, (output, frames)), name=f"lambda-wait-{pid}", daemon=True
        )
        watch.start()
        return child

    def _read_output(self, proc: subprocess.Popen) -> None:
        while chunk := os.read(proc.stdout.fileno(), 65536):
            self.output.append(chunk)
        proc.stdout.close()

    def _read_frames(self, child: _Child) -> None:
        """The child's answers: ready / init-error once, then one result per invocation."""
        with os.fdopen(child.from_child, "rb", buffering=1 << 16) as stream:
            while True:
                try:
                    frame = read_frame(stream)
                except (OSError, ValueError, EOFError) as exc:
                    LOG.debug("csvdrop-local: channel of %s broke: %s", self.id, exc)
                    return
                if frame is None:
                    return
                header, parts = frame
                kind = header.get("type")
                if kind == "ready":
                    _resolve(child.startup, True)
                elif kind == "init-error":
                    payload = parts[0] if parts else b"{}"
                    LOG.warning("Execution environment startup failed: %s", payload.decode(errors="replace"))
                    _fail(child.startup, StatusErrorException("Environment startup failed", payload=payload))
                elif kind == "result":
                    pending = self.pending
                    request_id = header.get("invoke-id", "")
                    if pending is None or pending.request_id != request_id or child is not self.child:
                        LOG.debug("csvdrop-local: %s: late result for %s ignored", self.id, request_id)
                        continue
                    body, logs = parts[0], parts[1].decode(errors="replace")
                    _resolve(pending.future, InvocationResult(request_id, body, bool(header.get("error")), logs))

    def _watch(self, child: _Child, readers: tuple[threading.Thread, ...]) -> None:
        """Runs when a child exits: fail whatever was waiting on it, unless we killed it ourselves."""
        proc = child.proc
        proc.wait()
        for reader in readers:  # what the child said and printed before it died comes first
            reader.join(timeout=1)
        child.close_channel()
        if proc.pid in self.killed or child is not self.child:  # on purpose, or already replaced
            return
        if not child.startup.done():
            reason = exit_reason(proc.returncode)
            tail = self.output.since(0)[-4000:]
            payload = {"errorType": "Runtime.ExitError", "errorMessage": f"{reason}\n{tail}".strip()}
            _fail(child.startup, StatusErrorException(reason, payload=json.dumps(payload).encode()))
        self._fail_pending_on_exit()

    def _fail_pending_on_exit(self) -> None:
        pending, proc = self.pending, self.proc
        if pending is None or proc is None or proc.returncode is None:
            return
        request_id = pending.request_id
        line = f"RequestId: {request_id} Error: {exit_reason(proc.returncode)}"
        payload = {"errorType": "Runtime.ExitError", "errorMessage": line}
        logs = self._logs(request_id, pending.offset, pending.started, f"{line}\nRuntime.ExitError", "error")
        _resolve(pending.future, InvocationResult(request_id, json.dumps(payload).encode(), True, logs))

    def _kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self.killed.add(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: takes the handler's subprocesses too
        except ProcessLookupError:
            pass
        proc.wait()

    # --- invocations -----------------------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        child = self.child
        if child is None or child.proc.poll() is not None:  # died or timed out before: cold start
            offset, started = self.output.end, time.perf_counter()
            child = self._spawn()
            try:
                child.startup.result(timeout=_env_timeout())
            except StatusErrorException as exc:
                logs = self._logs(request_id, offset, started, "", "error")
                return InvocationResult(request_id, exc.payload, True, logs)
        timeout = int(self.function_version.config.timeout)
        deadline = time.time() + timeout
        pending = self.pending = _Pending(request_id, self.output.end)
        header = {
            "type": "invoke",
            "invoke-id": request_id,
            "invoked-function-arn": payload.get("invoked-function-arn", ""),
            "trace-id": payload.get("trace-id", ""),
            "deadline-ms": int(deadline * 1000),
        }
        frame = encode_frame(header, (payload.get("payload") or "").encode())
        try:
            sent = child.send(frame, deadline)
            if sent is False:
                try:  # the child is gone: report its exit (unless the watcher already did)
                    child.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:  # alive but unreachable: put it down
                    self._kill()
                self._fail_pending_on_exit()
            try:
                if sent is None:  # the deadline passed while the child would not take the invocation
                    raise TimeoutError
                return pending.future.result(timeout=max(0.0, deadline - time.time()))
            except TimeoutError:
                self._kill()
                message = f"Task timed out after {timeout:.2f} seconds"
                line = f"{_timestamp()} {request_id} {message}"
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: {message}",
                }
                logs = self._logs(request_id, pending.offset, pending.started, line, "timeout")
                _resolve(pending.future, InvocationResult(request_id, json.dumps(error).encode(), True, logs))
                return pending.future.result()  # the answer, if it came in the last instant
        finally:
            self.pending = None

    def _logs(self, request_id: str, offset: int, started: float, last: str, status: str) -> str:
        """START/END/REPORT around what the child printed, for invocations the child could not finish."""
        printed = self.output.since(offset)
        if printed and not printed.endswith("\n"):
            printed += "\n"
        duration = (time.perf_counter() - started) * 1000
        version = self.function_version.id.qualifier
        memory = self.function_version.config.memory_size
        return (
            f"START RequestId: {request_id} Version: {version}\n{printed}{last + chr(10) if last else ''}"
            f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration + 0.999)} ms\tMemory Size: {memory} MB\tStatus: {status}\n"
        )

    # --- addresses -------------------------------------------------------------------------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        host = config.GATEWAY_LISTEN[0].host
        return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host

    def get_runtime_endpoint(self) -> str:
        """Only fills LOCALSTACK_RUNTIME_ENDPOINT in the function's environment (LocalStack reads nothing
        else from it): this executor's children answer over their pipes, not through this URL."""
        return f"http://{self.get_endpoint_from_executor()}:{config.GATEWAY_LISTEN[0].port}{NAMESPACE}/{self.id}"

    def get_logs(self) -> str:
        return self.output.since(0)

    # --- versions --------------------------------------------------------------------------------
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip code and layers. A runtime this executor cannot run is logged here and reported by
        every invoke (raising would leave the function Failed, and LocalStack cannot delete those)."""
        cfg = function_version.config
        try:
            _check_runtime(function_version)
        except (InterpreterNotFound, LambdaRuntimeException) as exc:
            LOG.warning("csvdrop-local: %s cannot run: %s", function_version.qualified_arn, exc)
        if cfg.code:
            cfg.code.prepare_for_execution()
        for layer in cfg.layers:
            if layer.code:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        LOG.info("Lambda functions run as local processes (csvdrop-local executor, no Docker)")
        return True
