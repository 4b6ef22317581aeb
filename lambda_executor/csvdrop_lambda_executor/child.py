"""The Lambda runtime inside the child process. Stdlib only: it runs under the function's interpreter.

It imports the handler, then serves invocations over a private channel to the executor (two pipes, fds
named in ``_CSVDROP_FDS``; length-prefixed frames, see ``encode_frame``): ``ready`` or ``init-error``
once, then for each ``invoke`` frame one ``result`` frame carrying the response or error payload and the
invocation's logs (START/END/REPORT). Each invocation runs on the main thread. What the function prints is
also written to fd 2 (the executor keeps it for crash/timeout logs). Timeouts and crashes are handled by
the parent executor, which kills this process.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import resource
import struct
import sys
import threading
import time
import traceback

LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"


def error_payload(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict:
    """Lambda's Python error shape: errorMessage, errorType, requestId, stackTrace (list of frames)."""
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop our own frames so the trace starts in the function's code, as on AWS.
    frames = [f for f in frames if f.filename != __file__]
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(frames),
    }


def failure_payload(exc: BaseException) -> dict:
    """The payload for any failure: a TypedError keeps its runtime errorType and has no stack trace."""
    if isinstance(exc, TypedError):
        return {**error_payload(exc, exc.error_type), "stackTrace": []}
    return error_payload(exc)


def error_log_line(payload: dict) -> str:
    """``[ERROR] Type: message`` + traceback, as the Python runtime logs an unhandled error."""
    trace = "".join(payload.get("stackTrace") or [])
    text = f"[ERROR] {payload['errorType']}: {payload['errorMessage']}"
    return f"{text}\nTraceback (most recent call last):\n{trace}" if trace else text


def max_memory_mb() -> int:
    """Peak RSS of this process. VmHWM, not ru_maxrss: that one keeps LocalStack's size from the fork."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def report_line(request_id: str, duration_ms: float, memory_mb: str, init_ms: float | None) -> str:
    used = max_memory_mb()
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {used} MB"
    )
    return line + (f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else "")


def load_handler(spec: str):
    """``pkg.sub.module.func`` -> callable; raises TypedError with Lambda's errorType on failure."""
    module_name, _, func_name = spec.rpartition(".")
    if not module_name or not func_name:
        raise TypedError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        message = f"Syntax error in module '{module_name}': {exc}"
        raise TypedError("Runtime.UserCodeSyntaxError", message) from exc
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise TypedError("Runtime.ImportModuleError", message) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        message = f"Handler '{func_name}' missing on module '{module_name}'"
        raise TypedError("Runtime.HandlerNotFound", message)
    return func


class TypedError(Exception):
    """An error Lambda reports under a runtime errorType (Runtime.ImportModuleError ...), no stack trace."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class LambdaContext:
    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, exactly as the AWS Python runtime reports it.
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _Capture(io.TextIOBase):
    """sys.stdout/sys.stderr: collects text for the current invocation and tees it to the real fd 2."""

    def __init__(self, real) -> None:
        self._real = real
        self._lock = threading.Lock()
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        self._real.write(text)
        self._real.flush()
        return len(text)

    def take(self) -> str:
        with self._lock:
            text, self._parts = "".join(self._parts), []
        return text

    def fileno(self) -> int:
        return self._real.fileno()

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


# --- the channel to the executor: length-prefixed frames over two pipes ------------------------------
# A frame is a 4-byte big-endian length, a JSON header of that length and then the raw parts whose sizes
# the header lists under "sizes" (payloads and logs travel as bytes, not re-encoded inside JSON).
_LEN = struct.Struct(">I")


def encode_frame(header: dict, *parts: bytes) -> bytes:
    head = json.dumps({**header, "sizes": [len(p) for p in parts]}).encode()
    return b"".join((_LEN.pack(len(head)), head, *parts))


def read_frame(stream) -> tuple[dict, list[bytes]] | None:
    """Next frame from a buffered binary stream; None at a clean end of stream."""
    prefix = stream.read(_LEN.size)
    if not prefix:
        return None
    if len(prefix) < _LEN.size:
        raise EOFError("stream ended inside a frame")
    head = stream.read(_LEN.unpack(prefix)[0])
    header = json.loads(head)
    parts = []
    for size in header.pop("sizes", []):
        part = stream.read(size)
        if len(part) < size:
            raise EOFError("stream ended inside a frame")
        parts.append(part)
    return header, parts


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> None:
    t0 = time.perf_counter()
    # The script's own dir (the executor package) must not shadow the function's modules.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    env = os.environ
    # Invocations arrive on in_fd, answers go out on out_fd; stdout/stderr are the function's output.
    in_fd, out_fd = (int(fd) for fd in env.pop("_CSVDROP_FDS").split(","))
    os.set_inheritable(in_fd, False)  # the function's subprocesses must not hold the channel
    os.set_inheritable(out_fd, False)
    invocations = os.fdopen(in_fd, "rb", buffering=1 << 16)
    task_root = env["LAMBDA_TASK_ROOT"]
    extra = [p for p in env.pop("_CSVDROP_LAYER_PATHS", "").split(os.pathsep) if p]
    runtime_dir = env.pop("_CSVDROP_RUNTIME_DIR", "")
    # Like Lambda: /var/task, then /opt/python..., then the runtime's own packages (boto3), then stdlib.
    sys.path[:0] = [task_root, *extra]
    if runtime_dir:
        sys.path.append(runtime_dir)
    os.chdir(task_root)

    real_out = sys.stderr
    capture = _Capture(real_out)
    sys.stdout = sys.stderr = capture
    request_filter = _RequestIdFilter()
    log_handler = logging.StreamHandler(capture)
    formatter = logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    log_handler.setFormatter(formatter)
    log_handler.addFilter(request_filter)
    logging.getLogger().addHandler(log_handler)

    try:
        handler = load_handler(env["_HANDLER"])
    except Exception as exc:  # init error: report it and exit
        payload = failure_payload(exc)
        print(error_log_line(payload), file=real_out, flush=True)
        write_all(out_fd, encode_frame({"type": "init-error"}, json.dumps(payload).encode()))
        sys.exit(1)
    spawned_at = float(env.pop("_CSVDROP_SPAWNED_AT", "0"))  # the executor's clock at spawn
    init_ms: float | None = (time.time() - spawned_at if spawned_at else time.perf_counter() - t0) * 1000
    write_all(out_fd, encode_frame({"type": "ready"}))

    version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    while frame := read_frame(invocations):  # end of stream: the executor let go of this environment
        inv, parts = frame
        request_id = inv["invoke-id"]
        request_filter.request_id = request_id
        if inv.get("trace-id"):
            env["_X_AMZN_TRACE_ID"] = inv["trace-id"]
        capture.take()
        start = time.perf_counter()
        context = LambdaContext(request_id, inv.get("invoked-function-arn", ""), int(inv["deadline-ms"]))
        is_error = False
        try:
            try:
                event = json.loads(parts[0] if parts and parts[0] else b"{}")
            except ValueError as exc:
                raise TypedError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from exc
            result = handler(event, context)
            try:
                body = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                raise TypedError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc
        except Exception as exc:
            is_error = True
            payload = {**failure_payload(exc), "requestId": request_id}
            print(error_log_line(payload), file=capture, flush=True)
            body = json.dumps(payload).encode()
        duration = (time.perf_counter() - start) * 1000
        output = capture.take()
        if output and not output.endswith("\n"):
            output += "\n"
        logs = (
            f"START RequestId: {request_id} Version: {version}\n{output}END RequestId: {request_id}\n"
            f"{report_line(request_id, duration, memory, init_ms)}\n"
        )
        init_ms = None
        header = {"type": "result", "invoke-id": request_id, "error": is_error}
        write_all(out_fd, encode_frame(header, body, logs.encode(errors="replace")))


if __name__ == "__main__":
    main()
