"""Local cloud benchmark: stack cold start, Lambda cold/warm invoke latency, S3 put throughput, client setup,
the cost of the crash-safe S3 journal.

Baselines in the same run: one S3 API round trip (the floor under an invoke), a plain local file copy of the
same 10 MB (what S3 put costs beyond the disk), boto3 clients each made from a new session (what
backend.aws did before it kept one session per target), and a second LocalStack with the S3 journal off
(CSVDROP_S3_JOURNAL_DIR="", what every put cost before the journal).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from backend import aws
from backend.config import Settings
from backend.stack import stack_up
from backend.stack.localstack import LocalStackService
from bench.common import percentile, stack_settings

ECHO = "import os\ndef handler(event, context):\n    return {'echo': event, 'pid': os.getpid()}\n"


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fn.py", source)
    return buf.getvalue()


HEALTH_CHECK_SERVICES = ("s3", "lambda", "sqs", "sns", "logs")


def _client_rows(settings: Settings, rounds: int = 5) -> list[dict[str, Any]]:
    """CPU to make the clients of one health check: backend.aws (one session per target) against a new session
    per client. No request is sent; the first round warms both paths."""

    def new_session_each() -> None:
        for service in HEALTH_CHECK_SERVICES:
            boto3.Session(region_name=settings.region).client(
                service, endpoint_url=settings.endpoint_url, aws_access_key_id="test", aws_secret_access_key="test"
            )

    def shared_session() -> None:
        for service in HEALTH_CHECK_SERVICES:
            aws.client(settings, service)

    times: dict[str, list[float]] = {"ours": [], "base": []}
    for _ in range(rounds + 1):
        for name, make in (("ours", shared_session), ("base", new_session_each)):
            t0 = time.process_time()
            make()
            times[name].append((time.process_time() - t0) * 1000)
    ours, base = statistics.median(times["ours"][1:]), statistics.median(times["base"][1:])
    n = len(HEALTH_CHECK_SERVICES)
    return [
        {
            "metric": f"{n} boto3 clients, backend.aws (one session per target), CPU median of {rounds}",
            "value": round(ours, 1),
            "unit": "ms",
            "target": "",
        },
        {
            "metric": f"baseline: {n} clients, a new boto3 session each",
            "value": round(base, 1),
            "unit": "ms",
            "target": f"ours/baseline = {ours / base:.2f}x",
        },
    ]


def _put_figures(settings: Settings, latency_puts: int = 100, burst: int = 200) -> tuple[float, float, float]:
    """(p50 ms, p95 ms) of sequential 100 KB puts, each to a new key, and files/s of `burst` 10 KB puts from 8
    threads (a client each), in a new bucket."""
    s3 = aws.client(settings, "s3")
    bucket = f"bench-journal-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(100 * 1024)
    for i in range(5):  # warm the connection and LocalStack's code paths
        s3.put_object(Bucket=bucket, Key=f"warm/{i}", Body=body)
    latencies = []
    for i in range(latency_puts):
        t0 = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"latency/{i:04d}.csv", Body=body)
        latencies.append((time.perf_counter() - t0) * 1000)
    small = os.urandom(10 * 1024)
    clients = [aws.client(settings, "s3") for _ in range(8)]

    def put(i: int) -> None:
        clients[i % 8].put_object(Bucket=bucket, Key=f"burst/{i:04d}.csv", Body=small)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(burst)))
    elapsed = time.perf_counter() - t0
    return statistics.median(latencies), percentile(latencies, 95), burst / elapsed


def _journal_rows(settings: Settings) -> list[dict[str, Any]]:
    """S3 puts with the journal on (the stack under test) against a second LocalStack with it off."""
    on = _put_figures(settings)
    previous = os.environ.get("CSVDROP_S3_JOURNAL_DIR")
    with stack_settings("stack-no-journal") as plain:
        os.environ["CSVDROP_S3_JOURNAL_DIR"] = ""
        try:
            LocalStackService(plain).start()
        finally:
            if previous is None:
                del os.environ["CSVDROP_S3_JOURNAL_DIR"]
            else:
                os.environ["CSVDROP_S3_JOURNAL_DIR"] = previous
        off = _put_figures(plain)
        LocalStackService(plain).stop()
    rows = []
    for label, unit, index in (
        ("S3 put 100 KB p50 (n=100, sequential)", "ms", 0),
        ("S3 put 100 KB p95 (n=100, sequential)", "ms", 1),
        ("S3 put 200 x 10 KB, 8 threads", "files/s", 2),
    ):
        rows.append({"metric": f"{label}, journal on", "value": round(on[index], 1), "unit": unit, "target": ""})
        rows.append(
            {
                "metric": f"baseline: {label}, journal off",
                "value": round(off[index], 1),
                "unit": unit,
                "target": f"on/off = {on[index] / off[index]:.2f}x",
            }
        )
    return rows


def run(warm_invokes: int = 50) -> list[dict[str, Any]]:
    with stack_settings("stack") as settings:
        rows: list[dict[str, Any]] = []
        started = time.perf_counter()
        stack_up(settings, use_docker=False)
        rows.append(
            {
                "metric": "stack cold start to healthy (venv installed, new state)",
                "value": round(time.perf_counter() - started, 2),
                "unit": "s",
                "target": "< 5",
            }
        )

        lam, s3 = aws.client(settings, "lambda"), aws.client(settings, "s3")
        iam = aws.client(settings, "iam")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam.create_function(
            FunctionName="bench-echo",
            Runtime="python3.13",
            Role=role,
            Handler="fn.handler",
            Code={"ZipFile": _zip(ECHO)},
            Timeout=10,
        )
        lam.get_waiter("function_active_v2").wait(FunctionName="bench-echo")
        payload = json.dumps({"n": 1}).encode()
        t0 = time.perf_counter()
        lam.invoke(FunctionName="bench-echo", Payload=payload)
        cold_ms = round((time.perf_counter() - t0) * 1000, 1)
        rows.append({"metric": "Lambda cold invoke (RequestResponse)", "value": cold_ms, "unit": "ms", "target": ""})
        warm = []
        for _ in range(warm_invokes):
            t0 = time.perf_counter()
            lam.invoke(FunctionName="bench-echo", Payload=payload)
            warm.append((time.perf_counter() - t0) * 1000)
        rows.append(
            {
                "metric": f"Lambda warm invoke median (n={warm_invokes})",
                "value": round(statistics.median(warm), 1),
                "unit": "ms",
                "target": "< 20",
            }
        )
        rows.append(
            {
                "metric": f"Lambda warm invoke p95 (n={warm_invokes})",
                "value": round(percentile(warm, 95), 1),
                "unit": "ms",
                "target": "",
            }
        )
        # Baseline: the S3 control-plane round trip of the same client (the floor under any invoke).
        rtt = []
        for _ in range(warm_invokes):
            t0 = time.perf_counter()
            s3.list_buckets()
            rtt.append((time.perf_counter() - t0) * 1000)
        rows.append(
            {
                "metric": "baseline: one LocalStack API round trip (s3 ListBuckets) median",
                "value": round(statistics.median(rtt), 1),
                "unit": "ms",
                "target": f"invoke/rtt = {statistics.median(warm) / statistics.median(rtt):.1f}x",
            }
        )

        s3.create_bucket(Bucket="bench")
        body = os.urandom(10 * 1024 * 1024)
        src = settings.state_dir / "10mb.bin"
        src.write_bytes(body)
        puts = []
        for _ in range(5):
            t0 = time.perf_counter()
            s3.put_object(Bucket="bench", Key="10mb.bin", Body=body)
            puts.append(time.perf_counter() - t0)
        copies = []
        for _ in range(5):
            t0 = time.perf_counter()
            shutil.copyfile(src, settings.state_dir / "copy.bin")
            copies.append(time.perf_counter() - t0)
        mbps = 10 * 1.048576 / statistics.median(puts)
        disk = 10 * 1.048576 / statistics.median(copies)
        rows.append(
            {"metric": "S3 put_object 10 MiB (median of 5)", "value": round(mbps, 1), "unit": "MB/s", "target": ""}
        )
        rows.append(
            {
                "metric": "baseline: local file copy 10 MiB",
                "value": round(disk, 1),
                "unit": "MB/s",
                "target": f"put/copy = {mbps / disk:.2f}x",
            }
        )
        rows += _client_rows(settings)
        rows += _journal_rows(settings)
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table("Local cloud", run())
