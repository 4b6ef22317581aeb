"""A write barrier for `csvdrop stack down`: no upload is cut off half-way by a clean stop.

Every acknowledged S3 write is already in the journal (durable_s3.py), but a write still under way when
LocalStack is stopped would fail in the middle. `POST /_csvdrop/drain` makes every later S3 write fail with
503 ServiceUnavailable (the client is told to retry later, and its file is still on its disk) and answers
once the writes already under way have finished and been journaled; only then is LocalStack stopped.
`POST /_csvdrop/undrain` lifts the barrier (when stopping is called off).
"""

from __future__ import annotations

import threading
import time

from localstack.aws.api import CommonServiceException
from localstack.http import Request, route
from localstack.runtime import hooks

S3_WRITES = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "DeleteObject",
        "DeleteObjects",
        "CreateBucket",
        "DeleteBucket",
    }
)
_COUNTED = "_csvdrop_counted_write"
_lock = threading.Condition()
_state = {"draining": False, "in_flight": 0}


def guard_s3_writes(chain, context, response) -> None:
    service = getattr(context, "service", None)
    operation = getattr(context, "operation", None)
    if service is None or service.service_name != "s3" or operation is None or operation.name not in S3_WRITES:
        return
    with _lock:
        if _state["draining"]:
            raise CommonServiceException(
                "ServiceUnavailable",
                "CSV Drop's local stack is stopping (csvdrop stack down); start it again with "
                "`csvdrop stack up`, then retry.",
                status_code=503,
            )
        _state["in_flight"] += 1
        setattr(context, _COUNTED, True)


def count_finished_writes(chain, context, response) -> None:
    if getattr(context, _COUNTED, False):
        setattr(context, _COUNTED, False)
        with _lock:
            _state["in_flight"] -= 1
            _lock.notify_all()


class DrainEndpoints:
    @route("/_csvdrop/drain", methods=["POST"])
    def drain(self, _request: Request) -> dict[str, object]:
        deadline = time.monotonic() + 30
        with _lock:
            _state["draining"] = True
            while _state["in_flight"] > 0 and time.monotonic() < deadline:
                _lock.wait(timeout=0.1)
            return {"draining": True, "in_flight": _state["in_flight"]}

    @route("/_csvdrop/undrain", methods=["POST"])
    def undrain(self, _request: Request) -> dict[str, object]:
        with _lock:
            _state["draining"] = False
        return {"draining": False}


@hooks.on_infra_start()
def csvdrop_s3_drain() -> None:
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    handlers.serve_custom_service_request_handlers.append(guard_s3_writes)
    handlers.run_custom_finalizers.append(count_finished_writes)
    ROUTER.add(DrainEndpoints())
