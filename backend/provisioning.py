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
from backend.config import Settings
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


def step_trigger(ctx: Context) -> tuple[Status, str]:
    s = ctx.settings
    if "function_arn" not in ctx.facts:
        ctx.facts["function_arn"] = ctx.client("lambda").get_function_configuration(FunctionName=s.function_name)[
            "FunctionArn"
        ]
    lam, s3 = ctx.client("lambda"), ctx.client("s3")
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
    current = s3.get_bucket_notification_configuration(Bucket=s.bucket)
    current.pop("ResponseMetadata", None)
    configs = current.get("LambdaFunctionConfigurations", [])
    others = [c for c in configs if c.get("Id") not in NOTIFICATION_IDS]
    existing = [c for c in configs if c.get("Id") in NOTIFICATION_IDS]
    ours = wanted_notifications(s, ctx.facts["function_arn"])
    where = f"s3://{s.bucket}/{s.key_prefix}* (every object) -> {s.function_name}"
    if same_notifications(existing, ours):
        return "found", where
    current["LambdaFunctionConfigurations"] = others + ours
    s3.put_bucket_notification_configuration(Bucket=s.bucket, NotificationConfiguration=current)
    return ("updated" if existing else "created"), where


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
        return c["Id"], c["LambdaFunctionArn"], tuple(sorted(c["Events"])), tuple(rules)

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
    return [Step(name, title, partial(action, ctx), settings) for name, title, action in SETUP_PLAN]


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
        ctx.client("s3").put_bucket_notification_configuration(Bucket=s.bucket, NotificationConfiguration=current)
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchBucket", "404"):
            raise
    gone = _ignore_missing(lambda: lam.delete_function(FunctionName=s.function_name), "ResourceNotFoundException")
    for version in lam.list_layer_versions(LayerName=s.layer_name).get("LayerVersions", []):
        lam.delete_layer_version(LayerName=s.layer_name, VersionNumber=version["Version"])
    return ("removed" if gone else "absent"), f"function {s.function_name}, its trigger and layer versions"


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
    for name in (s.queue_name, s.function_name + FAILED_EVENTS_QUEUE_SUFFIX):
        removed = _remove_queue(ctx, name, None, []) or removed
    return ("removed" if removed else "absent"), (
        f"topic {s.topic_name}, {len(readers)} reader queue(s) {reader_queue_prefix(s)}-*, the shared queue "
        f"{s.queue_name} of older versions and the failed-events queue"
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
