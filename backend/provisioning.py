"""`csvdrop setup` / `teardown`: the whole environment, step by step, idempotent.

Each step finds what exists, creates what is missing, updates what drifted, and says which. The GUI runs
the same steps one at a time to show live progress. Everything is addressed by name from Settings, so the
same steps provision LocalStack or a real AWS account.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from backend import aws
from backend.aws import error_code
from backend.config import Settings, check_settings
from backend.errors import CsvDropError
from backend.notices import (
    KIND_TITLES,
    MISSING_QUEUE,
    RETENTION_DAYS,
    RETENTION_S,
    TAG_TOPIC,
    desktop_reader,
    last_used,
    open_reader_queue,
    queue_arn,
    reader_queue_name,
    reader_queue_prefix,
    topic_arn,
)
from backend.packaging import build_function_zip, build_layer_zip
from backend.steps import PlanOutcome, Status, Step, StepEvent, run_steps
from backend.store import MetadataRecord, open_reader
from backend.store.schema_dynamodb import counter_table_name, ensure_table
from backend.store.waiting import wait_for_records

SMOKE_KEY = "_csvdrop/smoke-test.csv"
SMOKE_TIMEOUT_S = 90.0
SMOKE_RESEND_S = 15.0
# Said in the smoke step's detail when LocalStack dropped the event and the file had to be sent again.
SMOKE_RESENT = "its first event was dropped"
# The one S3 -> Lambda notification: every object created under the key prefix, whatever its name (the local
# check accepts .tsv, .txt ... as well; the function answers each with a record, FAILED when it is not a CSV).
NOTIFICATION_ID = "csvdrop-process-csv"
# Every Id setup has ever used: replaced or removed along with ours (the second one is the ".CSV" half of the
# older two-configuration setting that only took .csv and .CSV names).
NOTIFICATION_IDS = (NOTIFICATION_ID, "csvdrop-process-csv-upper")
FAILED_EVENTS_QUEUE_SUFFIX = "-failed-events"
# The queue trigger (trigger = "queue"): S3 -> <function_name>-ingest -> the function in batches; a message the
# function could not store queue_max_receives times moves to <function_name>-ingest-dlq.
INGEST_QUEUE_SUFFIX = "-ingest"
DEAD_LETTER_QUEUE_SUFFIX = "-ingest-dlq"
QUEUE_NOTIFICATION_ID = "csvdrop-ingest-queue"
# SQS keeps a message's first enqueue time when it moves it to the dead-letter queue, so that queue must keep
# messages longer than the ingest queue does, or a file failing for days would expire on arrival there.
INGEST_RETENTION_S = 4 * 24 * 3600
DEAD_LETTER_RETENTION_S = 14 * 24 * 3600
# Event source mapping states that are on the way somewhere (AWS refuses an update meanwhile).
MAPPING_SETTLED = ("Enabled", "Disabled")


class ProvisioningError(CsvDropError, RuntimeError):
    """A step could not complete; the message says what and what to do."""


@dataclass
class Context:
    """What steps learn and hand on (ARNs, passwords); clients are made once per run."""

    settings: Settings
    notify_email: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws.client(self.settings, service, timeout_s=10, retries=3)
        return self._clients[service]

    @property
    def account(self) -> str:
        if "account" not in self.facts:
            self.facts["account"] = self.client("sts").get_caller_identity()["Account"]
        return str(self.facts["account"])


# ------------------------------------------------------------------------------------------ bucket
def step_bucket(ctx: Context) -> tuple[Status, str]:
    s3, bucket = ctx.client("s3"), ctx.settings.bucket
    try:
        s3.head_bucket(Bucket=bucket)
        return "found", f"bucket s3://{bucket}"
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if ctx.settings.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.settings.region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return "created", f"bucket s3://{bucket} (private, versioning off)"


def _artifacts_bucket(ctx: Context) -> str:
    return f"csvdrop-artifacts-{ctx.account}-{ctx.settings.region}"


# ------------------------------------------------------------------------------------------ secrets
def _secret_payload(ctx: Context, user: str, password: str) -> dict[str, Any]:
    s = ctx.settings
    return {
        "engine": "mysql",
        "host": s.lambda_mysql_host,
        "port": s.mysql_port,
        "username": user,
        "password": password,
        "dbname": s.mysql_database,
    }


def _ensure_secret(ctx: Context, name: str, user: str) -> tuple[Status, str, dict[str, Any]]:
    sm = ctx.client("secretsmanager")
    try:
        current = sm.get_secret_value(SecretId=name)
        value = json.loads(current["SecretString"])
        wanted = _secret_payload(ctx, user, value.get("password") or secrets.token_urlsafe(24))
        if value != wanted:
            sm.put_secret_value(SecretId=name, SecretString=json.dumps(wanted))
            return "updated", current["ARN"], wanted
        return "found", current["ARN"], value
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    wanted = _secret_payload(ctx, user, secrets.token_urlsafe(24))
    created = sm.create_secret(
        Name=name, SecretString=json.dumps(wanted), Description="CSV Drop metadata database credentials"
    )
    return "created", created["ARN"], wanted


def step_secrets(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    w_status, w_arn, writer = _ensure_secret(ctx, s.db_secret_name, s.mysql_writer_user)
    r_status, r_arn, reader = _ensure_secret(ctx, s.reader_secret_name, s.mysql_reader_user)
    ctx.facts.update(
        writer_secret_arn=w_arn,
        writer_password=writer["password"],
        reader_secret_arn=r_arn,
        reader_password=reader["password"],
    )
    status: Status = (
        "created"
        if "created" in (w_status, r_status)
        else ("updated" if "updated" in (w_status, r_status) else "found")
    )
    return status, f"{s.db_secret_name} (writer, for the Lambda), {s.reader_secret_name} (read-only, for the app)"


# ------------------------------------------------------------------------------------------ stores
def step_database(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    if s.metadata_store != "mysql":
        return "skipped", f"metadata_store is {s.metadata_store}"
    from backend.store.schema_mysql import ensure_database_and_users

    if "writer_password" not in ctx.facts:
        step_secrets(ctx)
    done = ensure_database_and_users(
        s,
        admin_password=s.mysql_admin_password,
        writer_password=ctx.facts["writer_password"],
        reader_password=ctx.facts["reader_password"],
    )
    changes = [d for d in done if d.startswith(("created", "applied", "dropped", "changed"))]
    where = f"{s.mysql_database} on {s.mysql_host}:{s.mysql_port}"
    if changes:
        return "created", f"{where}: " + "; ".join(changes)
    users = f"{s.mysql_writer_user} (writer), {s.mysql_reader_user} (read-only)"
    return "found", f"{where}: schema up to date; users {users}"


def step_dynamodb(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    if s.metadata_store != "dynamodb":
        return "skipped", "metadata_store is mysql"
    outcome = ensure_table(s)
    return ("created" if outcome.startswith("created") else "found"), f"table {s.dynamodb_table}: {outcome}"


# ------------------------------------------------------------------------------------------ notices
def step_topic(ctx: Context) -> tuple[Status, str]:
    sns, name = ctx.client("sns"), ctx.settings.topic_name
    arn = topic_arn(ctx.settings, ctx.account)
    try:
        sns.get_topic_attributes(TopicArn=arn)
        status: Status = "found"
    except ClientError as exc:
        if error_code(exc) not in ("NotFound", "NotFoundException"):
            raise
        arn = sns.create_topic(Name=name)["TopicArn"]
        status = "created"
    ctx.facts["topic_arn"] = arn
    return status, arn


def _ensure_queue(ctx: Context, name: str) -> tuple[Status, str, str]:
    sqs = ctx.client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        status: Status = "found"
    except ClientError as exc:
        if error_code(exc) not in MISSING_QUEUE:
            raise
        url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
        status = "created"
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return status, url, arn


@dataclass(frozen=True)
class ReaderQueueFound:
    """A reader queue of this environment, as setup and teardown find it."""

    name: str
    url: str
    arn: str
    last_used: dt.datetime | None  # its last-use tag, else when it was created (None: neither is known)


def _subscriptions(ctx: Context, topic: str) -> list[dict[str, Any]]:
    try:
        pages = ctx.client("sns").get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        return [sub for page in pages for sub in page.get("Subscriptions", [])]
    except ClientError as exc:
        if error_code(exc) in ("NotFound", "NotFoundException"):
            return []
        raise


def reader_queues(ctx: Context) -> list[ReaderQueueFound]:
    """Every reader queue of this environment: named with its prefix, and tagged with its topic or subscribed to
    it (another environment's queue_name may start like this one's: its queues belong to its own topic)."""
    s, sqs = ctx.settings, ctx.client("sqs")
    topic = topic_arn(s, ctx.account)
    subscribed = {sub.get("Endpoint") for sub in _subscriptions(ctx, topic) if sub.get("Protocol") == "sqs"}
    prefix = reader_queue_prefix(s) + "-"
    found: list[ReaderQueueFound] = []
    for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix):
        for url in page.get("QueueUrls", []):
            name = str(url).rstrip("/").rsplit("/", 1)[-1]
            arn = queue_arn(s, ctx.account, name)
            try:
                tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
                if tags.get(TAG_TOPIC) != topic and arn not in subscribed:
                    continue
                when = last_used(tags)
                if when is None:
                    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["CreatedTimestamp"])
                    created = attributes.get("Attributes", {}).get("CreatedTimestamp")
                    when = dt.datetime.fromtimestamp(int(created), dt.UTC) if created else None
            except ClientError as exc:
                if error_code(exc) in MISSING_QUEUE:  # removed while we looked
                    continue
                raise
            found.append(ReaderQueueFound(name, str(url), arn, when))
    return found


def _unsubscribe(sns: Any, subscription: str) -> None:
    try:
        sns.unsubscribe(SubscriptionArn=subscription)
    except ClientError as exc:
        if error_code(exc) not in ("NotFound", "NotFoundException"):
            raise


def _remove_queue(ctx: Context, name: str, url: str | None, subscriptions: list[dict[str, Any]]) -> bool:
    """Unsubscribes the queue from the topic, then deletes it; False when it was already gone."""
    sns, sqs = ctx.client("sns"), ctx.client("sqs")
    arn = queue_arn(ctx.settings, ctx.account, name)
    for sub in subscriptions:
        if sub.get("Endpoint") == arn and str(sub.get("SubscriptionArn", "")).startswith("arn:"):
            _unsubscribe(sns, str(sub["SubscriptionArn"]))
    try:
        sqs.delete_queue(QueueUrl=url or sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as exc:
        if error_code(exc) in MISSING_QUEUE:
            return False
        raise
    return True


def step_queue(ctx: Context) -> tuple[Status, str]:
    """Readers make their own queues on first use; setup makes this desktop's (so its window and `csvdrop
    notices` get notices from the first upload on, even before they first read), removes the queues unused for
    longer than they keep notices, and removes the one shared queue of older versions."""
    if "topic_arn" not in ctx.facts:
        step_topic(ctx)
    s, topic = ctx.settings, ctx.facts["topic_arn"]
    subscriptions = _subscriptions(ctx, topic)
    changes: list[str] = []
    # Readers of that queue split the notices between them; nothing reads it now, so it would only fill up.
    if _remove_queue(ctx, s.queue_name, None, subscriptions):
        changes.append(f"removed the shared queue {s.queue_name} (every reader has its own now)")
    mine = {kind: reader for kind in KIND_TITLES if (reader := desktop_reader(s, kind)) is not None}
    own_names = {reader_queue_name(s, reader) for reader in mine.values()}
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=RETENTION_S)
    others = [q for q in reader_queues(ctx) if q.name not in own_names]
    unused = [q for q in others if q.last_used is not None and q.last_used < cutoff]
    removed = [q.name for q in unused if _remove_queue(ctx, q.name, q.url, subscriptions)]
    if removed:
        changes.append(
            f"removed {len(removed)} reader queue(s) unused for more than {RETENTION_DAYS} days: {', '.join(removed)}"
        )
    opened = [
        (kind, open_reader_queue(s, reader, sqs=ctx.client("sqs"), sns=ctx.client("sns"), account=ctx.account))
        for kind, reader in mine.items()
    ]
    status: Status = "created" if any(q.created for _, q in opened) else ("updated" if changes else "found")
    desktop = ", ".join(f"{q.name} ({KIND_TITLES[kind]})" for kind, q in opened) or "none (its ids are being made)"
    kept = len(others) - len(removed)
    detail = (
        f"this desktop's: {desktop}; {kept} other reader queue(s); each subscribed to {s.topic_name} (raw "
        f"delivery) and kept until unused for {RETENTION_DAYS} days"
    )
    return status, "; ".join([detail, *changes])


def step_email(ctx: Context) -> tuple[Status, str]:
    if not ctx.notify_email:
        return "skipped", "no --notify-email given"
    if "topic_arn" not in ctx.facts:
        step_topic(ctx)
    sns, topic = ctx.client("sns"), ctx.facts["topic_arn"]
    subs = sns.list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
    if any(sub["Protocol"] == "email" and sub["Endpoint"] == ctx.notify_email for sub in subs):
        return "found", f"email notices to {ctx.notify_email}"
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=ctx.notify_email)
    return "created", f"email notices to {ctx.notify_email} (AWS sends a confirmation email first)"


def step_failed_events_queue(ctx: Context) -> tuple[Status, str]:
    name = ctx.settings.function_name + FAILED_EVENTS_QUEUE_SUFFIX
    status, url, arn = _ensure_queue(ctx, name)
    ctx.facts.update(failed_queue_url=url, failed_queue_arn=arn)
    return status, f"{name} keeps events the function could not process after its retries"


# ------------------------------------------------------------------------------------------ IAM
def lambda_policy(ctx: Context) -> dict[str, Any]:
    """Least privilege for the function: read uploaded objects, read its DB secret, publish notices,
    write its own logs, write its metadata table, hand failed events to its queue. Nothing else."""
    s, region, account = ctx.settings, ctx.settings.region, ctx.account
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadUploads", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{s.bucket}/*"},
        {
            "Sid": "PublishNotices",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": ctx.facts.get("topic_arn", f"arn:aws:sns:{region}:{account}:{s.topic_name}"),
        },
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{s.function_name}:*",
        },
        {
            "Sid": "FailedEvents",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": f"arn:aws:sqs:{region}:{account}:{s.function_name}{FAILED_EVENTS_QUEUE_SUFFIX}",
        },
    ]
    if s.trigger == "queue" or ctx.facts.get("ingest_queue_exists"):
        statements.append(
            {
                "Sid": "IngestQueue",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    # The function brings a failed message back after seconds, not the visibility timeout.
                    "sqs:GetQueueUrl",
                    "sqs:ChangeMessageVisibility",
                ],
                "Resource": f"arn:aws:sqs:{region}:{account}:{ingest_queue_name(s)}",
            }
        )
    if s.metadata_store == "mysql":
        statements.append(
            {
                "Sid": "DbCredentials",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": ctx.facts.get(
                    "writer_secret_arn", f"arn:aws:secretsmanager:{region}:{account}:secret:{s.db_secret_name}-*"
                ),
            }
        )
    else:
        statements.append(
            {
                "Sid": "MetadataTable",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                "Resource": [
                    f"arn:aws:dynamodb:{region}:{account}:table/{s.dynamodb_table}",
                    f"arn:aws:dynamodb:{region}:{account}:table/{counter_table_name(s.dynamodb_table)}",
                ],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def step_role(ctx: Context) -> tuple[Status, str]:
    iam, name = ctx.client("iam"), ctx.settings.role_name
    if ctx.settings.trigger == "direct":
        # Back from the queue trigger: its mapping still reads the queue until it is drained (step_trigger).
        ctx.facts["ingest_queue_exists"] = _queue_url(ctx, ingest_queue_name(ctx.settings)) is not None
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        status: Status = "found"
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        arn = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description="CSV Drop process_csv function"
        )["Role"]["Arn"]
        status = "created"
    policy = json.dumps(lambda_policy(ctx))
    try:
        current = iam.get_role_policy(RoleName=name, PolicyName="csvdrop-least-privilege")["PolicyDocument"]
        current_text = json.dumps(current if isinstance(current, dict) else json.loads(current))
    except ClientError:
        current_text = ""
    if current_text != policy:
        iam.put_role_policy(RoleName=name, PolicyName="csvdrop-least-privilege", PolicyDocument=policy)
        status = "created" if status == "created" else "updated"
    ctx.facts["role_arn"] = arn
    return status, f"{arn} with an inline least-privilege policy"


# ------------------------------------------------------------------------------------------ Lambda
def step_layer(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    artifact = build_layer_zip(s)
    marker = f"csvdrop deps {artifact.sha256[:32]}"
    lam = ctx.client("lambda")
    versions = lam.list_layer_versions(LayerName=s.layer_name).get("LayerVersions", [])
    for version in versions:
        if version.get("Description") == marker:
            ctx.facts["layer_arn"] = version["LayerVersionArn"]
            return "found", f"{version['LayerVersionArn']} ({artifact.path.stat().st_size / 1e6:.0f} MB)"
    # Over 50 MB a layer must come from S3 on AWS; do the same everywhere.
    s3, bucket = ctx.client("s3"), _artifacts_bucket(ctx)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if s.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": s.region}
        s3.create_bucket(**kwargs)
    key = f"layers/{artifact.path.name}"
    s3.upload_file(str(artifact.path), bucket, key)
    published = lam.publish_layer_version(
        LayerName=s.layer_name,
        Description=marker,
        Content={"S3Bucket": bucket, "S3Key": key},
        CompatibleRuntimes=[s.lambda_runtime],
        CompatibleArchitectures=["x86_64"],
    )
    ctx.facts["layer_arn"] = published["LayerVersionArn"]
    return "created", f"{published['LayerVersionArn']} ({artifact.path.stat().st_size / 1e6:.0f} MB)"


def function_environment(ctx: Context) -> dict[str, str]:
    s = ctx.settings
    env = {
        "METADATA_STORE": s.metadata_store,
        "DYNAMODB_TABLE": s.dynamodb_table,
        "DYNAMODB_COUNTER_TABLE": counter_table_name(s.dynamodb_table),
        "TOPIC_ARN": ctx.facts["topic_arn"],
        # Profiling needs ~7x the file in memory (bench/bench_extract.py); keep a margin for the runtime.
        "MAX_OBJECT_BYTES": str(s.lambda_memory_mb * 1024 * 1024 // 10),
        # The function writes a FAILED record on a message's last attempt, before SQS moves it to the DLQ. Set
        # whatever the trigger (the function tells an SQS batch by its shape): switching triggers then leaves the
        # function as it is (LocalStack drops S3 events that arrive while an updated function switches versions).
        "MAX_RECEIVES": str(s.queue_max_receives),
    }
    if s.metadata_store == "mysql":
        env["DB_SECRET_ARN"] = ctx.facts["writer_secret_arn"]
    return env


def _wait_function_ready(lam: Any, name: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
        state, update = config.get("State"), config.get("LastUpdateStatus")
        if state == "Failed" or update == "Failed":
            reason = config.get("StateReason") or config.get("LastUpdateStatusReason")
            raise ProvisioningError(f"The function {name} failed to deploy: {reason}")
        if state == "Active" and update in (None, "Successful"):
            return config
        if time.monotonic() > deadline:
            raise ProvisioningError(f"The function {name} was not ready after {timeout_s:.0f} s (state {state}).")
        time.sleep(0.5)


def _ensure_log_group(ctx: Context) -> None:
    """Setup creates the function's log group, so its role needs no logs:CreateLogGroup (README, Security)."""
    try:
        ctx.client("logs").create_log_group(logGroupName=f"/aws/lambda/{ctx.settings.function_name}")
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise


def step_function(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    for needed, step in (
        ("topic_arn", step_topic),
        ("role_arn", step_role),
        ("layer_arn", step_layer),
        ("failed_queue_arn", step_failed_events_queue),
    ):
        if needed not in ctx.facts:
            step(ctx)
    if s.metadata_store == "mysql" and "writer_secret_arn" not in ctx.facts:
        step_secrets(ctx)
    _ensure_log_group(ctx)
    lam = ctx.client("lambda")
    code = build_function_zip(s)
    wanted = {
        "Runtime": s.lambda_runtime,
        "Role": ctx.facts["role_arn"],
        "Handler": "handler.lambda_handler",
        "Timeout": s.lambda_timeout_s,
        "MemorySize": s.lambda_memory_mb,
        "Environment": {"Variables": function_environment(ctx)},
        "Layers": [ctx.facts["layer_arn"]],
    }
    import base64
    import hashlib

    code_sha = base64.b64encode(hashlib.sha256(code.path.read_bytes()).digest()).decode()
    try:
        current = lam.get_function_configuration(FunctionName=s.function_name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        current = None
    if current is None:
        for attempt in range(10):  # a just-created role can take a few seconds to be usable on AWS
            try:
                lam.create_function(
                    FunctionName=s.function_name,
                    Code={"ZipFile": code.path.read_bytes()},
                    Description="CSV Drop: profile uploaded CSVs",
                    **wanted,
                )
                break
            except ClientError as exc:
                if error_code(exc) != "InvalidParameterValueException" or attempt == 9:
                    raise
                time.sleep(2)
        status: Status = "created"
    else:
        status = "found"
        if current.get("CodeSha256") != code_sha:
            _wait_function_ready(lam, s.function_name)
            lam.update_function_code(FunctionName=s.function_name, ZipFile=code.path.read_bytes())
            status = "updated"
        have = {k: current.get(k) for k in ("Runtime", "Role", "Handler", "Timeout", "MemorySize")}
        have["Environment"] = {"Variables": current.get("Environment", {}).get("Variables", {})}
        have["Layers"] = [layer["Arn"] for layer in current.get("Layers", [])]
        if have != wanted:
            _wait_function_ready(lam, s.function_name)
            lam.update_function_configuration(FunctionName=s.function_name, **wanted)
            status = "updated"
    config = _wait_function_ready(lam, s.function_name)
    ctx.facts["function_arn"] = config["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=s.function_name,
        MaximumRetryAttempts=2,
        MaximumEventAgeInSeconds=6 * 3600,
        DestinationConfig={"OnFailure": {"Destination": ctx.facts["failed_queue_arn"]}},
    )
    return status, f"{config['FunctionArn']} ({s.lambda_runtime}, {s.lambda_memory_mb} MB, {s.lambda_timeout_s} s)"


def trigger_title(s: Settings) -> str:
    """The trigger step's title: says which trigger the settings ask for."""
    if s.trigger == "queue":
        return f"S3 -> SQS -> Lambda (batches of {s.queue_batch_size})"
    return "S3 -> Lambda trigger for every upload"


def step_trigger(ctx: Context) -> tuple[Status, str]:
    s = check_settings(ctx.settings)
    if "function_arn" not in ctx.facts:
        ctx.facts["function_arn"] = ctx.client("lambda").get_function_configuration(FunctionName=s.function_name)[
            "FunctionArn"
        ]
    if s.trigger == "queue":
        return _queue_trigger(ctx)
    return _direct_trigger(ctx)


def _direct_trigger(ctx: Context) -> tuple[Status, str]:
    s, lam = ctx.settings, ctx.client("lambda")
    try:
        lam.add_permission(
            FunctionName=s.function_name,
            StatementId=f"s3-invoke-{s.bucket}",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=f"arn:aws:s3:::{s.bucket}",
            SourceAccount=ctx.account,
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":
            raise
    changed = _put_notifications(ctx, wanted_notifications(s, ctx.facts["function_arn"]), [])
    where = f"s3://{s.bucket}/{s.key_prefix}* (every object) -> {s.function_name}"
    # After the bucket points at the function: what is still in the ingest queue of the queue trigger gets
    # processed before its mapping and queues go (a later setup finishes the job).
    left = _remove_queue_trigger(ctx)
    status: Status = "created" if changed == "created" else ("updated" if changed or left else "found")
    return status, "; ".join([where, *left])


def _queue_trigger(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    dlq_status, _dlq_url, dlq_arn = _ensure_queue_with(
        ctx,
        dead_letter_queue_name(s),
        {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_S)},
    )
    name = ingest_queue_name(s)
    arn = queue_arn(s, ctx.account, name)
    queue_status, _url, arn = _ensure_queue_with(ctx, name, ingest_queue_attributes(s, ctx.account, arn, dlq_arn))
    mapping_status = _ensure_mapping(ctx, arn)
    # The mapping exists before S3 points at the queue: the s3:TestEvent S3 sends then is read (and ignored by
    # the function) at once instead of waiting in the queue.
    changed = _put_notifications(ctx, [], wanted_queue_notifications(s, arn))
    statuses = {dlq_status, queue_status, mapping_status, changed or "found"}
    status: Status = "created" if "created" in statuses else ("updated" if "updated" in statuses else "found")
    window = f", gathered up to {s.queue_batch_window_s} s" if s.queue_batch_window_s else ""
    return status, (
        f"s3://{s.bucket}/{s.key_prefix}* (every object) -> {name} -> {s.function_name} in batches of "
        f"{s.queue_batch_size}{window}; after {s.queue_max_receives} failed attempts a message goes to "
        f"{dead_letter_queue_name(s)} (visibility {s.queue_visibility_timeout} s)"
    )


def ingest_queue_name(s: Settings) -> str:
    return s.function_name + INGEST_QUEUE_SUFFIX


def dead_letter_queue_name(s: Settings) -> str:
    return s.function_name + DEAD_LETTER_QUEUE_SUFFIX


def ingest_queue_attributes(s: Settings, account: str, arn: str, dead_letter_arn: str) -> dict[str, str]:
    """The ingest queue's attributes: visibility, retention, redrive to the DLQ and the policy that lets only
    this bucket of this account send to it."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BucketSendsEvents",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{s.bucket}"},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            }
        ],
    }
    return {
        "VisibilityTimeout": str(s.queue_visibility_timeout),
        "MessageRetentionPeriod": str(INGEST_RETENTION_S),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": s.queue_max_receives}),
        "Policy": json.dumps(policy),
    }


def queue_attributes_differ(have: dict[str, str], want: dict[str, str]) -> list[str]:
    """The names of the wanted attributes the queue does not have (JSON ones compared as data)."""

    def norm(name: str, value: str | None) -> Any:
        if value is None:
            return None
        if name in ("RedrivePolicy", "Policy"):
            data = json.loads(value)
            if name == "RedrivePolicy":  # AWS answers the count as a string
                data["maxReceiveCount"] = int(data.get("maxReceiveCount", 0))
            return data
        return str(value)

    return sorted(k for k, v in want.items() if norm(k, have.get(k)) != norm(k, v))


def _queue_url(ctx: Context, name: str) -> str | None:
    try:
        return str(ctx.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as exc:
        if error_code(exc) in MISSING_QUEUE:
            return None
        raise


def _ensure_queue_with(ctx: Context, name: str, attributes: dict[str, str]) -> tuple[Status, str, str]:
    sqs = ctx.client("sqs")
    url = _queue_url(ctx, name)
    if url is None:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        status: Status = "created"
    else:
        have = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        drifted = queue_attributes_differ(have, attributes)
        if drifted:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={k: attributes[k] for k in drifted})
        status = "updated" if drifted else "found"
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return status, str(url), str(arn)


def wanted_mapping(s: Settings) -> dict[str, Any]:
    """The event source mapping's settings (ReportBatchItemFailures: only the failed messages come back)."""
    return {
        "BatchSize": s.queue_batch_size,
        "MaximumBatchingWindowInSeconds": s.queue_batch_window_s,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Enabled": True,
    }


def mapping_changes(s: Settings, mapping: dict[str, Any]) -> dict[str, Any]:
    """What update_event_source_mapping must change so the mapping is the wanted one ({} when it is)."""
    want = wanted_mapping(s)
    have = {
        "BatchSize": mapping.get("BatchSize"),
        "MaximumBatchingWindowInSeconds": mapping.get("MaximumBatchingWindowInSeconds") or 0,
        "FunctionResponseTypes": sorted(mapping.get("FunctionResponseTypes") or []),
        "Enabled": mapping.get("State") in ("Enabled", "Enabling", "Creating", "Updating"),
    }
    return {k: v for k, v in want.items() if have[k] != v}


def _mappings(ctx: Context, queue: str) -> list[dict[str, Any]]:
    lam = ctx.client("lambda")
    try:
        pages = lam.get_paginator("list_event_source_mappings").paginate(
            EventSourceArn=queue, FunctionName=ctx.settings.function_name
        )
        return [m for page in pages for m in page.get("EventSourceMappings", [])]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return []
        raise


def _wait_mapping_settled(lam: Any, uuid: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        mapping: dict[str, Any] = lam.get_event_source_mapping(UUID=uuid)
        if mapping.get("State") in MAPPING_SETTLED or time.monotonic() > deadline:
            return mapping
        time.sleep(0.5)


def _ensure_mapping(ctx: Context, queue: str) -> Status:
    s, lam = ctx.settings, ctx.client("lambda")
    found = _mappings(ctx, queue)
    if not found:
        for attempt in range(10):  # a just-granted role can take a few seconds to be usable on AWS
            try:
                created = lam.create_event_source_mapping(
                    EventSourceArn=queue, FunctionName=s.function_name, **wanted_mapping(s)
                )
                break
            except ClientError as exc:
                if error_code(exc) != "InvalidParameterValueException" or attempt == 9:
                    raise
                time.sleep(2)
        _wait_mapping_settled(lam, created["UUID"])
        return "created"
    status: Status = "found"
    for extra in found[1:]:  # one mapping reads the queue; a second would only split the batches
        _ignore_missing(partial(lam.delete_event_source_mapping, UUID=extra["UUID"]), "ResourceNotFoundException")
        status = "updated"
    mapping = found[0]
    if mapping_changes(s, mapping) or mapping.get("State") not in MAPPING_SETTLED:
        mapping = _wait_mapping_settled(lam, mapping["UUID"])
    changes = mapping_changes(s, mapping)
    if changes:
        lam.update_event_source_mapping(UUID=mapping["UUID"], **changes)
        _wait_mapping_settled(lam, mapping["UUID"])
        status = "updated"
    return status


def _remove_queue_trigger(ctx: Context) -> list[str]:
    """Direct trigger: removes the queue trigger's mapping and queues once nothing is left in the ingest queue;
    says what it removed, or what it left and why."""
    s, sqs, lam = ctx.settings, ctx.client("sqs"), ctx.client("lambda")
    name = ingest_queue_name(s)
    url = _queue_url(ctx, name)
    if url is None:
        return []
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    waiting = sum(int(v) for v in counts.values())
    if waiting:
        return [
            f"{name} still holds {waiting} upload event(s): its mapping stays until the function has read them "
            "(run setup again to remove it)"
        ]
    out = []
    for mapping in _mappings(ctx, queue_arn(s, ctx.account, name)):
        _ignore_missing(partial(lam.delete_event_source_mapping, UUID=mapping["UUID"]), "ResourceNotFoundException")
        out.append(f"removed the queue trigger's mapping from {name}")
    _remove_queue(ctx, name, url, [])
    out.append(f"removed the empty queue {name}")
    dlq = dead_letter_queue_name(s)
    dlq_url = _queue_url(ctx, dlq)
    if dlq_url is not None:
        held = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        if int(held["Attributes"].get("ApproximateNumberOfMessages", 0)):
            out.append(f"kept {dlq}: it holds events of files that failed (teardown removes it)")
        else:
            _remove_queue(ctx, dlq, dlq_url, [])
            out.append(f"removed the empty queue {dlq}")
    return out


def _put_notifications(ctx: Context, lambda_configs: list[dict[str, Any]], queue_configs: list[dict[str, Any]]) -> str:
    """Makes our bucket notifications these (other configurations stay as they are); returns "" when they were
    already, else "created" (none of ours before) or "updated"."""
    s3, bucket = ctx.client("s3"), ctx.settings.bucket
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    have_lambda = current.get("LambdaFunctionConfigurations", [])
    have_queue = current.get("QueueConfigurations", [])
    ours_lambda = [c for c in have_lambda if c.get("Id") in NOTIFICATION_IDS]
    ours_queue = [c for c in have_queue if c.get("Id") == QUEUE_NOTIFICATION_ID]
    if same_notifications(ours_lambda, lambda_configs) and same_notifications(ours_queue, queue_configs):
        return ""
    current["LambdaFunctionConfigurations"] = [
        c for c in have_lambda if c.get("Id") not in NOTIFICATION_IDS
    ] + lambda_configs
    current["QueueConfigurations"] = [c for c in have_queue if c.get("Id") != QUEUE_NOTIFICATION_ID] + queue_configs
    for key in ("LambdaFunctionConfigurations", "QueueConfigurations"):
        if not current[key]:
            del current[key]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)
    return "updated" if ours_lambda or ours_queue else "created"


def wanted_queue_notifications(s: Settings, queue: str) -> list[dict[str, Any]]:
    """The bucket's notification for the ingest queue: the same events and prefix rule as the direct one."""
    (config,) = wanted_notifications(s, "")
    del config["LambdaFunctionArn"]
    return [{**config, "Id": QUEUE_NOTIFICATION_ID, "QueueArn": queue}]


def queue_trigger_problem(s: Settings, notification: dict[str, Any], mappings: list[dict[str, Any]]) -> str | None:
    """Why the queue trigger is not wired as setup wires it (None when it is): the bucket's notification to the
    ingest queue and an enabled mapping from that queue to the function."""
    configs = [c for c in notification.get("QueueConfigurations", []) if c.get("Id") == QUEUE_NOTIFICATION_ID]
    if not configs:
        return "uploads are not sent to the ingest queue: run Set up environment"
    queue = str(configs[0].get("QueueArn", ""))
    if not queue.endswith(f":{ingest_queue_name(s)}"):
        return f"uploads go to another queue ({queue.rsplit(':', 1)[-1]}): run Set up environment"
    if not same_notifications(configs, wanted_queue_notifications(s, queue)):
        return "only some uploads are sent to the ingest queue: run Set up environment"
    ours = [m for m in mappings if m.get("EventSourceArn") == queue]
    if not ours:
        return f"nothing reads {ingest_queue_name(s)} (its event source mapping is missing): run Set up environment"
    state = ours[0].get("State")
    if state not in ("Enabled", "Enabling", "Creating", "Updating"):
        return f"the mapping from {ingest_queue_name(s)} to the function is {state}: uploads wait in the queue"
    return None


def wanted_notifications(s: Settings, function_arn: str) -> list[dict[str, Any]]:
    """The bucket's notification for the function: one configuration, a prefix rule only (none at all when
    the prefix is the bucket root: S3 then matches every key, and an empty rule value is not sent)."""
    config: dict[str, Any] = {
        "Id": NOTIFICATION_ID,
        "LambdaFunctionArn": function_arn,
        # Removals too: the function marks the record deleted, so every window drops the row.
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
    }
    if s.key_prefix:
        config["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": s.key_prefix}]}}
    return [config]


def same_notifications(have: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    def norm(c: dict[str, Any]) -> tuple[Any, ...]:
        filter_rules = c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        rules = sorted((r["Name"].lower(), r["Value"]) for r in filter_rules if r["Value"])
        target = c.get("LambdaFunctionArn") or c.get("QueueArn")
        return c["Id"], target, tuple(sorted(c["Events"])), tuple(rules)

    return sorted(map(norm, have)) == sorted(map(norm, want))


def step_smoke_test(ctx: Context) -> tuple[Status, str]:
    """A tiny CSV goes through the real pipeline; its record must appear."""
    s = ctx.settings
    key = s.key_prefix.rstrip("/") + "/" + SMOKE_KEY if s.key_prefix.strip("/") else SMOKE_KEY

    def send() -> str:
        body = f"check,at\nsmoke-test,{time.time():.6f}\n".encode()
        put = ctx.client("s3").put_object(Bucket=s.bucket, Key=key, Body=body, ContentType="text/csv")
        return str(put["ETag"]).strip('"')

    started = time.monotonic()
    sent = {"at": started}
    pending = {key: send()}

    def resend_if_dropped(pending: dict[str, str]) -> None:
        # LocalStack's S3 notifier drops an event that arrives while a just-updated function switches versions
        # (it does not retry); a fresh upload sends a fresh event. Said in the step's detail when it happens.
        if time.monotonic() - sent["at"] > SMOKE_RESEND_S:
            pending[key], sent["at"] = send(), time.monotonic()
            resent.append(pending[key])

    resent: list[str] = []
    arrived: list[MetadataRecord] = []
    reader = open_reader(s, password=ctx.facts.get("reader_password"))
    try:
        wait_for_records(
            reader,
            s.bucket,
            pending,
            timeout_s=SMOKE_TIMEOUT_S,
            on_record=lambda _key, record: arrived.append(record),
            between_polls=resend_if_dropped,
        )
    finally:
        reader.close()
    if arrived:
        record = arrived[0]
        if record.status != "PROCESSED":
            raise ProvisioningError(f"The smoke-test file was processed but FAILED: {record.error}")
        again = f" ({SMOKE_RESENT}: sent {len(resent) + 1} times)" if resent else ""
        return "passed", f"s3://{s.bucket}/{key} processed in {time.monotonic() - started:.1f} s{again}"
    raise ProvisioningError(
        f"The smoke-test file s3://{s.bucket}/{key} was not processed within {SMOKE_TIMEOUT_S:.0f} s. "
        f"See the function's logs: `aws logs filter-log-events --log-group-name /aws/lambda/{s.function_name}`."
    )


SETUP_PLAN: list[tuple[str, str, Callable[[Context], tuple[Status, str]]]] = [
    ("bucket", "S3 bucket", step_bucket),
    ("secrets", "Database credentials in Secrets Manager", step_secrets),
    ("database", "Metadata database, schema and users", step_database),
    ("dynamodb", "DynamoDB metadata table", step_dynamodb),
    ("topic", "SNS notices topic", step_topic),
    ("queue", "SQS notice queues (one per reader)", step_queue),
    ("email", "Email notices", step_email),
    ("failed_events", "Queue for events that failed", step_failed_events_queue),
    ("role", "IAM role (least privilege)", step_role),
    ("layer", "Dependency layer (pandas, pymysql)", step_layer),
    ("function", "Lambda function", step_function),
    ("trigger", "S3 -> Lambda trigger for every upload", step_trigger),
    ("smoke_test", "Smoke test: a tiny CSV end to end", step_smoke_test),
]


def setup_steps(settings: Settings, notify_email: str | None = None) -> list[Step]:
    ctx = Context(settings, notify_email)
    return [
        Step(name, trigger_title(settings) if name == "trigger" else title, partial(action, ctx), settings)
        for name, title, action in SETUP_PLAN
    ]


def run_setup(
    settings: Settings, notify_email: str | None = None, on_event: Callable[[StepEvent], None] | None = None
) -> PlanOutcome:
    """The setup plan through the one step runner (stops at the first failure)."""
    return run_steps(setup_steps(settings, notify_email), on_event)


# ------------------------------------------------------------------------------------------ teardown
def _ignore_missing(fn: Callable[[], Any], *missing: str) -> bool:
    """Run fn; False when the thing was already gone."""
    try:
        fn()
        return True
    except ClientError as exc:
        if error_code(exc) in missing:
            return False
        raise


def teardown_function(ctx: Context) -> tuple[Status, str]:
    s, lam = ctx.settings, ctx.client("lambda")
    try:
        current = ctx.client("s3").get_bucket_notification_configuration(Bucket=s.bucket)
        current.pop("ResponseMetadata", None)
        current["LambdaFunctionConfigurations"] = [
            c for c in current.get("LambdaFunctionConfigurations", []) if c.get("Id") not in NOTIFICATION_IDS
        ]
        current["QueueConfigurations"] = [
            c for c in current.get("QueueConfigurations", []) if c.get("Id") != QUEUE_NOTIFICATION_ID
        ]
        ctx.client("s3").put_bucket_notification_configuration(Bucket=s.bucket, NotificationConfiguration=current)
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchBucket", "404"):
            raise
    mappings = _mappings(ctx, queue_arn(s, ctx.account, ingest_queue_name(s)))
    for mapping in mappings:
        _ignore_missing(partial(lam.delete_event_source_mapping, UUID=mapping["UUID"]), "ResourceNotFoundException")
    gone = _ignore_missing(lambda: lam.delete_function(FunctionName=s.function_name), "ResourceNotFoundException")
    for version in lam.list_layer_versions(LayerName=s.layer_name).get("LayerVersions", []):
        lam.delete_layer_version(LayerName=s.layer_name, VersionNumber=version["Version"])
    return ("removed" if gone or mappings else "absent"), (
        f"function {s.function_name}, its trigger{' and queue mapping' if mappings else ''} and layer versions"
    )


def teardown_role(ctx: Context) -> tuple[Status, str]:
    iam, name = ctx.client("iam"), ctx.settings.role_name
    _ignore_missing(lambda: iam.delete_role_policy(RoleName=name, PolicyName="csvdrop-least-privilege"), "NoSuchEntity")
    gone = _ignore_missing(lambda: iam.delete_role(RoleName=name), "NoSuchEntity")
    return ("removed" if gone else "absent"), f"role {name}"


def teardown_notices(ctx: Context) -> tuple[Status, str]:
    s, sns = ctx.settings, ctx.client("sns")
    topic = topic_arn(s, ctx.account)
    subscriptions = _subscriptions(ctx, topic)  # before the topic goes: they name the reader queues
    readers = [q.name for q in reader_queues(ctx) if _remove_queue(ctx, q.name, q.url, subscriptions)]
    removed = bool(readers)
    try:
        sns.get_topic_attributes(TopicArn=topic)  # deleting a topic that is not there succeeds: ask first
    except ClientError as exc:
        if error_code(exc) not in ("NotFound", "NotFoundException"):
            raise
    else:
        for sub in subscriptions:
            if str(sub.get("SubscriptionArn", "")).startswith("arn:"):
                _unsubscribe(sns, str(sub["SubscriptionArn"]))
        sns.delete_topic(TopicArn=topic)
        removed = True
    for name in (
        s.queue_name,
        s.function_name + FAILED_EVENTS_QUEUE_SUFFIX,
        ingest_queue_name(s),
        dead_letter_queue_name(s),
    ):
        removed = _remove_queue(ctx, name, None, []) or removed
    return ("removed" if removed else "absent"), (
        f"topic {s.topic_name}, {len(readers)} reader queue(s) {reader_queue_prefix(s)}-*, the shared queue "
        f"{s.queue_name} of older versions, the failed-events queue and the ingest queue with its dead-letter queue"
    )


def _empty_and_delete_bucket(s3: Any, bucket: str) -> bool:
    try:
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            objects = [
                {"Key": o["Key"], "VersionId": o["VersionId"]}
                for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for i in range(0, len(objects), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects[i : i + 1000], "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if error_code(exc) in ("NoSuchBucket", "404"):
            return False
        raise


def teardown_buckets(ctx: Context) -> tuple[Status, str]:
    s3 = ctx.client("s3")
    gone = _empty_and_delete_bucket(s3, ctx.settings.bucket)
    _empty_and_delete_bucket(s3, _artifacts_bucket(ctx))
    return ("removed" if gone else "absent"), f"bucket s3://{ctx.settings.bucket} and all its objects"


def teardown_secrets(ctx: Context) -> tuple[Status, str]:
    sm, s = ctx.client("secretsmanager"), ctx.settings

    def delete(name: str) -> bool:
        # Asked first: LocalStack answers a delete of a secret that is already gone with success, and the step
        # must not say "removed" for nothing.
        if not _ignore_missing(partial(sm.describe_secret, SecretId=name), "ResourceNotFoundException"):
            return False
        return _ignore_missing(
            partial(sm.delete_secret, SecretId=name, ForceDeleteWithoutRecovery=True), "ResourceNotFoundException"
        )

    removed = [name for name in (s.db_secret_name, s.reader_secret_name) if delete(name)]
    return ("removed" if removed else "absent"), ", ".join(removed) or "no secrets"


def teardown_stores(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    done = []
    if s.metadata_store == "mysql":
        from backend.store.schema_mysql import drop_database_and_users

        outcome = drop_database_and_users(s, admin_password=s.mysql_admin_password)
        if outcome.startswith("dropped"):
            done.append(outcome)
    ddb = ctx.client("dynamodb")
    for table in (s.dynamodb_table, counter_table_name(s.dynamodb_table)):
        if _ignore_missing(partial(ddb.delete_table, TableName=table), "ResourceNotFoundException"):
            done.append(f"table {table} deleted")
    return ("removed" if done else "absent"), "; ".join(done) or "nothing to remove"


TEARDOWN_PLAN: list[tuple[str, str, Callable[[Context], tuple[Status, str]]]] = [
    ("function", "Lambda function, trigger and layer", teardown_function),
    ("role", "IAM role", teardown_role),
    ("notices", "SNS topic and SQS queues", teardown_notices),
    ("buckets", "S3 bucket (and every object in it)", teardown_buckets),
    ("secrets", "Secrets", teardown_secrets),
    ("stores", "Metadata database / table", teardown_stores),
]


def teardown_steps(settings: Settings) -> list[Step]:
    ctx = Context(settings)
    return [Step(name, title, partial(action, ctx), settings) for name, title, action in TEARDOWN_PLAN]
