"""The environment as a whole: bringing it up (stack -> restore -> setup -> reconcile) and its status lights.

This is the one module that knows the order of things. The stack launcher (``backend.stack``) only starts and
stops processes and restores the S3 journal; provisioning only runs steps; reconcile only re-sends objects. The CLI's
`stack up`, the app's "start the local stack first?" and the tests all bring the environment up here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backend import aws
from backend.aws import error_code, explain
from backend.config import Settings
from backend.provisioning import (
    NOTIFICATION_IDS,
    ingest_queue_name,
    queue_trigger_problem,
    run_setup,
    same_notifications,
    wanted_notifications,
)
from backend.reconcile import ReconcileReport, reconcile
from backend.stack import localstack_endpoint, stack_status, stack_up
from backend.stack.snapshot import restore_s3
from backend.steps import PlanOutcome, StepEvent, StepFinished
from backend.store.schema_mysql import metadata_table_exists

Say = Callable[[str], None]


@dataclass(frozen=True)
class BringUp:
    """What `bring_up` did. ``setup`` is None when no setup was needed (LocalStack kept running, or it never
    held an environment); ``ready`` says whether the environment that existed before is whole again."""

    localstack: str
    setup: PlanOutcome | None = None
    reconciled: ReconcileReport | None = None

    @property
    def ready(self) -> bool:
        return self.setup is None or self.setup.ok


def bring_up(settings: Settings, on_message: Say | None = None, *, use_docker: bool | None = None) -> BringUp:
    """Starts the local stack and, when LocalStack started fresh (and so empty), puts the environment back."""
    say = on_message or (lambda _m: None)
    outcome = stack_up(settings, say, use_docker=use_docker)
    if outcome != "started":
        return BringUp(outcome)
    return restore_environment(settings, say)


def restore_environment(settings: Settings, say: Say) -> BringUp:
    """A fresh LocalStack is empty: put back every object whose upload was acknowledged (the S3 journal, kept
    whether LocalStack stopped cleanly or was killed) and, if this environment had been set up, set it up again
    and process whatever has no record yet (uploads whose function never ran before the stop)."""
    restored = restore_s3(settings, localstack_endpoint(settings), say)
    if settings.bucket not in restored:
        # The journal holds no such bucket: never set up here, or LocalStack ran without the journal
        # (CSVDROP_S3_JOURNAL_DIR="", a docker compose stack, an older version stopped without `stack down`).
        # The metadata database outlives LocalStack and exists only once setup ran: then set up again.
        if settings.metadata_store != "mysql" or not metadata_table_exists(settings):
            return BringUp("started")
        say(
            f"localstack: its S3 journal holds no bucket {settings.bucket} (LocalStack ran without the journal), "
            "so the objects uploaded before it stopped are gone: upload them again"
        )

    def step_line(event: StepEvent) -> None:
        if isinstance(event, StepFinished):
            say(f"  {event.result.status:<8} {event.result.name}: {event.result.detail}")

    say("setup: recreating the function, topic and queues of the restored environment")
    setup = run_setup(settings, on_event=step_line)
    if not setup.ok:
        say("setup failed after restart: run `csvdrop setup` to see why and fix it")
        return BringUp("started", setup)
    report = reconcile(settings)
    say(
        f"reconcile: {report.objects} objects, {report.redriven} sent for processing (no up-to-date record)"
        + (
            f"; {report.marked_missing} records of gone objects marked MISSING (upload them again)"
            if report.gone
            else ""
        )
    )
    return BringUp("started", setup, report)


# ------------------------------------------------------------------------------------------ status
@dataclass(frozen=True)
class Health:
    ok: bool | None  # None: unknown (a dependency is down)
    detail: str


LIGHTS = ("localstack", "database", "function", "trigger")


def trigger_health(
    settings: Settings, notification: dict[str, Any], mappings: list[dict[str, Any]] | None = None
) -> Health:
    """Whether the bucket's notification configuration is the one setup writes (see wanted_notifications); with
    the queue trigger, also whether an enabled mapping (one of ``mappings``, the function's event source
    mappings) reads the ingest queue."""
    if settings.trigger == "queue":
        problem = queue_trigger_problem(settings, notification, mappings or [])
        if problem:
            return Health(False, problem)
        return Health(
            True,
            f"s3://{settings.bucket}/{settings.key_prefix}* -> {ingest_queue_name(settings)} -> "
            f"{settings.function_name} (batches of {settings.queue_batch_size})",
        )
    configs = notification.get("LambdaFunctionConfigurations", [])
    existing = [c for c in configs if c.get("Id") in NOTIFICATION_IDS]
    if not existing:
        return Health(False, "not wired: run Set up environment")
    arn = str(existing[0].get("LambdaFunctionArn", ""))
    if not arn.endswith(f":function:{settings.function_name}"):
        return Health(False, f"wired to another function ({arn.rsplit(':', 1)[-1]}): run Set up environment")
    if not same_notifications(existing, wanted_notifications(settings, arn)):
        return Health(
            False,
            "only some uploads trigger the function (an older setup took .csv names only): run Set up environment",
        )
    return Health(True, f"s3://{settings.bucket}/{settings.key_prefix}* -> {settings.function_name}")


def environment_status(settings: Settings) -> dict[str, Health]:
    """Status lights (keys in LIGHTS): is the cloud answering, the database, the function deployed, the trigger
    wired."""
    out: dict[str, Health] = {}
    services = {s.name: s for s in stack_status(settings)}
    cloud = services.get("localstack") or services.get("aws")
    out["localstack"] = Health(cloud.healthy if cloud else None, cloud.detail if cloud else "unknown")
    db = services.get("mysql")
    if settings.metadata_store == "dynamodb":
        out["database"] = Health(None, "DynamoDB store") if not out["localstack"].ok else Health(True, "DynamoDB")
    else:
        out["database"] = Health(db.healthy if db else None, f"{db.endpoint}: {db.detail}" if db else "unknown")
    if not out["localstack"].ok:
        out["function"] = Health(None, "cloud not reachable")
        out["trigger"] = Health(None, "cloud not reachable")
        return out
    try:
        lam = aws.client(settings, "lambda", timeout_s=10, retries=3)
        config = lam.get_function_configuration(FunctionName=settings.function_name)
        ok = config.get("State") == "Active"
        out["function"] = Health(ok, f"{settings.function_name}: {config.get('State')}")
    except ClientError as exc:
        out["function"] = Health(
            False,
            "not deployed: run Set up environment"
            if error_code(exc) == "ResourceNotFoundException"
            else explain(exc, settings),
        )
    except BotoCoreError as exc:
        out["function"] = Health(False, explain(exc, settings))
    try:
        s3 = aws.client(settings, "s3", timeout_s=10, retries=3)
        notification = s3.get_bucket_notification_configuration(Bucket=settings.bucket)
        mappings = None
        if settings.trigger == "queue":
            lam = aws.client(settings, "lambda", timeout_s=10, retries=3)
            mappings = lam.list_event_source_mappings(FunctionName=settings.function_name)["EventSourceMappings"]
        out["trigger"] = trigger_health(settings, notification, mappings)
    except ClientError as exc:
        out["trigger"] = Health(
            False,
            "bucket missing: run Set up environment"
            if error_code(exc) in ("NoSuchBucket", "404")
            else explain(exc, settings),
        )
    except BotoCoreError as exc:
        out["trigger"] = Health(False, explain(exc, settings))
    return out
