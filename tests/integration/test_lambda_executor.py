"""The csvdrop-local LocalStack Lambda executor against a real LocalStack (no Docker).

One zip-deployed function (with a layer) serves every case; its behaviour is chosen by the event.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from testsupport import wait_until

from backend.aws import client
from backend.config import Settings

pytestmark = pytest.mark.stack

TIMEOUT_S = 2
MEMORY_MB = 256

HANDLER_CODE = """
import json
import os
import sys
import time

import layermod  # from the layer's python/ dir, as /opt/python on AWS

STATE = {"invocations": 0}


def main(event, context):
    STATE["invocations"] += 1
    if "Records" in event:  # S3 ObjectCreated notification
        import boto3  # provided by the runtime, as on AWS; reaches LocalStack via AWS_ENDPOINT_URL

        s3 = boto3.client("s3")
        for record in event["Records"]:
            bucket, key = record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
            body = json.dumps({"key": key, "eventName": record["eventName"]})
            s3.put_object(Bucket=bucket, Key="out/" + key.split("/", 1)[1] + ".json", Body=body)
        return {"handled": len(event["Records"])}
    print("marker", event.get("marker", ""))
    if "raise" in event:
        raise ValueError(event["raise"])
    if "sleep" in event:
        started = time.time()
        time.sleep(event["sleep"])
        print("window", event.get("marker", ""), started, time.time())
    if "exit" in event:
        os._exit(event["exit"])
    if "put" in event:
        import boto3

        boto3.client("s3").put_object(Bucket=event["put"]["bucket"], Key=event["put"]["key"], Body=b"done")
    return {
        "event": event,
        "invocations_since_cold_start": STATE["invocations"],
        "pid": os.getpid(),
        "python": "%d.%d" % sys.version_info[:2],
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "cwd": os.getcwd(),
        "greeting": os.environ.get("GREETING"),
        "number": os.environ.get("NUMBER"),
        "aws_endpoint_url": os.environ.get("AWS_ENDPOINT_URL"),
        "has_credentials": bool(os.environ.get("AWS_ACCESS_KEY_ID")),
        "layer": layermod.VALUE,
    }
"""


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


@dataclass
class Fn:
    name: str
    bucket: str
    lam: Any
    s3: Any
    logs: Any

    def invoke(self, event: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], Any]:
        """(response, decoded payload)."""
        resp = self.lam.invoke(FunctionName=self.name, Payload=json.dumps(event), **kwargs)
        raw = resp["Payload"].read()
        return resp, (json.loads(raw) if raw else None)


def _create_function(lam: Any, name: str, handler: str, code: bytes, runtime: str = "python3.13", **extra: Any) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role="arn:aws:iam::000000000000:role/csvdrop-executor-test",
        Handler=handler,
        Code={"ZipFile": code},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})


@pytest.fixture(scope="module")
def fn(stack: Settings) -> Iterator[Fn]:
    lam, s3, logs = client(stack, "lambda"), client(stack, "s3"), client(stack, "logs")
    suffix = uuid.uuid4().hex[:8]
    name, bucket, layer_name = f"lexec-{suffix}", f"lexec-{suffix}", f"lexec-layer-{suffix}"
    s3.create_bucket(Bucket=bucket)
    layer = lam.publish_layer_version(
        LayerName=layer_name,
        Content={"ZipFile": _zip({"python/layermod.py": 'VALUE = "from-layer"\n'})},
        CompatibleRuntimes=["python3.13"],
    )
    code = _zip({"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/handlers.py": HANDLER_CODE})
    _create_function(
        lam,
        name,
        "pkg.sub.handlers.main",
        code,
        Timeout=TIMEOUT_S,
        MemorySize=MEMORY_MB,
        Layers=[layer["LayerVersionArn"]],
        Environment={"Variables": {"GREETING": "hello", "NUMBER": "42"}},
    )
    try:
        yield Fn(name, bucket, lam, s3, logs)
    finally:
        lam.delete_function(FunctionName=name)
        lam.delete_layer_version(LayerName=layer_name, VersionNumber=layer["Version"])
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)


def test_request_response_runs_the_deployed_code_with_context_env_and_layer(fn: Fn) -> None:
    resp, out = fn.invoke({"marker": "rr", "n": 1})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, out
    assert out["event"] == {"marker": "rr", "n": 1}
    assert out["python"] == "3.13"
    assert out["function_name"] == fn.name
    assert out["function_version"] == "$LATEST"
    assert out["invoked_function_arn"].endswith(f":function:{fn.name}")
    assert str(out["memory_limit_in_mb"]) == str(MEMORY_MB)  # a string, as on AWS
    assert out["log_group_name"] == f"/aws/lambda/{fn.name}"
    assert out["log_stream_name"]
    assert 0 < out["remaining_ms"] <= TIMEOUT_S * 1000
    assert out["greeting"] == "hello" and out["number"] == "42"
    assert out["layer"] == "from-layer"
    assert out["has_credentials"] and out["aws_endpoint_url"].startswith("http://")
    # LAMBDA_TASK_ROOT is the real unzipped code dir (not /var/task), and the working directory.
    assert os.path.isfile(os.path.join(out["task_root"], "pkg", "sub", "handlers.py"))
    assert os.path.realpath(out["cwd"]) == os.path.realpath(out["task_root"])


def test_megabyte_payload_round_trips(fn: Fn) -> None:
    blob = "é" * 1_000_000
    resp, out = fn.invoke({"blob": blob})
    assert "FunctionError" not in resp, out
    assert out["event"]["blob"] == blob


def test_event_invocation_runs_asynchronously_and_reaches_localstack_with_boto3(fn: Fn) -> None:
    key = f"events/{uuid.uuid4().hex}"
    resp = fn.lam.invoke(
        FunctionName=fn.name,
        InvocationType="Event",
        Payload=json.dumps({"put": {"bucket": fn.bucket, "key": key}}),
    )
    assert resp["StatusCode"] == 202

    def landed() -> bool:
        return fn.s3.list_objects_v2(Bucket=fn.bucket, Prefix=key).get("KeyCount", 0) > 0

    wait_until(landed, 20, f"s3://{fn.bucket}/{key} written by the function", interval=0.3)


def test_s3_object_created_notification_triggers_the_function(fn: Fn) -> None:
    arn = fn.lam.get_function(FunctionName=fn.name)["Configuration"]["FunctionArn"]
    fn.lam.add_permission(
        FunctionName=fn.name,
        StatementId=f"s3-{uuid.uuid4().hex[:6]}",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{fn.bucket}",
    )
    fn.s3.put_bucket_notification_configuration(
        Bucket=fn.bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    fn.s3.put_object(Bucket=fn.bucket, Key="in/data.csv", Body=b"a,b\n1,2\n")

    def result() -> dict[str, Any] | None:
        try:
            body = fn.s3.get_object(Bucket=fn.bucket, Key="out/data.csv.json")["Body"].read()
        except fn.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    out = wait_until(result, 20, "the function's output for in/data.csv", interval=0.3)
    assert out["key"] == "in/data.csv"
    assert out["eventName"].startswith("ObjectCreated:")


def test_raising_handler_returns_lambda_error_shape(fn: Fn) -> None:
    resp, out = fn.invoke({"raise": "bad input 7"})
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "bad input 7"
    assert isinstance(out["stackTrace"], list) and any("handlers.py" in line for line in out["stackTrace"])
    # The environment survives a handled exception: the next invoke is warm.
    _, again = fn.invoke({})
    assert again["invocations_since_cold_start"] > 1


@pytest.mark.timeout(120)
def test_timeout_reports_task_timed_out_and_next_invoke_is_cold(fn: Fn) -> None:
    # The handler would sleep far past this test's own timeout: only the executor cutting it off at the
    # function's Timeout lets the invoke return at all (and the cold next invoke shows the process was killed).
    resp, out = fn.invoke({"sleep": 600})
    assert resp["FunctionError"] == "Unhandled"
    assert f"Task timed out after {TIMEOUT_S}.00 seconds" in out["errorMessage"]
    resp, out = fn.invoke({})
    assert "FunctionError" not in resp, out
    assert out["invocations_since_cold_start"] == 1


@pytest.mark.timeout(120)
def test_process_exit_fails_fast_with_runtime_exit_error_and_recovers(fn: Fn) -> None:
    _, before = fn.invoke({})
    resp, out = fn.invoke({"exit": 3})
    assert resp["FunctionError"] == "Unhandled"
    # An executor left waiting for the dead runtime would answer only at the deadline, as Sandbox.Timedout.
    assert out["errorType"] == "Runtime.ExitError", out
    assert "exit status 3" in out["errorMessage"]
    resp, after = fn.invoke({})
    assert "FunctionError" not in resp, after
    assert after["invocations_since_cold_start"] == 1
    assert after["pid"] != before["pid"]


def test_logs_reach_cloudwatch_with_start_end_report(fn: Fn) -> None:
    marker = uuid.uuid4().hex
    _, out = fn.invoke({"marker": marker})
    request_id = out["aws_request_id"]
    group = f"/aws/lambda/{fn.name}"

    def messages() -> list[str] | None:
        try:
            events = fn.logs.filter_log_events(logGroupName=group)["events"]
        except fn.logs.exceptions.ResourceNotFoundException:
            return None
        found = [e["message"] for e in events if request_id in e["message"] or marker in e["message"]]
        return found if any(m.startswith("REPORT") for m in found) else None

    found = wait_until(messages, 20, f"CloudWatch logs of request {request_id}", interval=0.3)
    assert any(m.startswith(f"START RequestId: {request_id}") for m in found)
    assert any(f"marker {marker}" in m for m in found)
    assert any(m.startswith(f"END RequestId: {request_id}") for m in found)
    report = next(m for m in found if m.startswith(f"REPORT RequestId: {request_id}"))
    assert "Duration:" in report and f"Memory Size: {MEMORY_MB} MB" in report


def _stream_messages(fn: Fn) -> dict[str, list[str]]:
    """Every log stream of the function, its messages in stored order."""
    group = f"/aws/lambda/{fn.name}"
    try:
        streams = fn.logs.describe_log_streams(logGroupName=group)["logStreams"]
    except fn.logs.exceptions.ResourceNotFoundException:  # no invocation has logged yet
        return {}
    out = {}
    for stream in streams:
        name = stream["logStreamName"]
        events = fn.logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)["events"]
        out[name] = [e["message"] for e in events]
    return out


def test_async_burst_runs_at_most_cpus_plus_one_at_once_and_logs_every_invocation_in_order(fn: Fn) -> None:
    """The plugin's cap (the CPUs, at least 2: async_pool.py) and batched log delivery (log_batching.py)."""
    cap = max(2, len(os.sched_getaffinity(0)))
    markers = [f"burst-{uuid.uuid4().hex[:10]}" for _ in range(cap + 3)]
    for marker in markers:
        resp = fn.lam.invoke(
            FunctionName=fn.name, InvocationType="Event", Payload=json.dumps({"marker": marker, "sleep": 0.8})
        )
        assert resp["StatusCode"] == 202

    def windows() -> dict[str, tuple[float, float]] | None:
        found = {}
        for messages in _stream_messages(fn).values():
            for message in messages:
                parts = message.split()
                if parts[:1] == ["window"] and parts[1] in markers:
                    found[parts[1]] = (float(parts[2]), float(parts[3]))
        return found if len(found) == len(markers) else None

    spans = wait_until(windows, 60, f"all {len(markers)} async invocations to log their window", interval=0.3)
    edges = sorted([(start, 1) for start, _ in spans.values()] + [(end, -1) for _, end in spans.values()])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert 2 <= peak <= cap, f"{peak} invocations ran at once; the cap is {cap}"

    # Each invocation's lines arrive whole and in order in its stream, however the deliveries were batched.
    for messages in _stream_messages(fn).values():
        for marker in markers:
            at = [i for i, m in enumerate(messages) if marker in m]
            if not at:
                continue
            assert len(at) == 2, messages  # "marker ..." and "window ..."
            start = max(i for i in range(at[0]) if messages[i].startswith("START RequestId: "))
            request_id = messages[start].split()[2]
            end = messages.index(f"END RequestId: {request_id}\n", at[1])
            assert messages[end + 1].startswith(f"REPORT RequestId: {request_id}")


def test_init_error_is_reported_as_import_module_error(stack: Settings) -> None:
    lam = client(stack, "lambda")
    name = f"lexec-bad-{uuid.uuid4().hex[:8]}"
    _create_function(lam, name, "nosuchmodule.handler", _zip({"other.py": "x = 1\n"}))
    try:
        resp = lam.invoke(FunctionName=name, Payload=b"{}")
        out = json.loads(resp["Payload"].read())
        assert resp["FunctionError"] == "Unhandled"
        assert out["errorType"] == "Runtime.ImportModuleError"
        assert "nosuchmodule" in out["errorMessage"]
    finally:
        lam.delete_function(FunctionName=name)


def test_deleting_the_function_stops_its_process(stack: Settings) -> None:
    lam = client(stack, "lambda")
    name = f"lexec-reap-{uuid.uuid4().hex[:8]}"
    code = _zip({"app.py": "import os\ndef handler(event, context):\n    return os.getpid()\n"})
    _create_function(lam, name, "app.handler", code)
    try:
        pid = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
        assert _alive(pid)
    finally:
        lam.delete_function(FunctionName=name)
    wait_until(lambda: not _alive(pid), 15, f"runtime process {pid} to exit", interval=0.3)


def test_non_python_runtime_fails_invokes_with_a_clear_message(stack: Settings) -> None:
    lam = client(stack, "lambda")
    name = f"lexec-node-{uuid.uuid4().hex[:8]}"
    _create_function(
        lam,
        name,
        "index.handler",
        _zip({"index.js": "exports.handler = async () => 1;\n"}),
        runtime="nodejs20.x",
    )
    try:
        resp = lam.invoke(FunctionName=name, Payload=b"{}")
        out = json.loads(resp["Payload"].read())
        assert resp["FunctionError"] == "Unhandled"
        assert "nodejs20.x" in out["errorMessage"] and "not supported" in out["errorMessage"]
    finally:
        lam.delete_function(FunctionName=name)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
