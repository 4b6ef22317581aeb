"""The settings dialog: where CSV Drop uploads to and how it behaves; saved with ``save_settings``."""

from __future__ import annotations

import re
from typing import Literal, TypedDict, get_args

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backend.config import MB, Settings

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

EditedKey = Literal[
    "mode",
    "aws_endpoint",
    "aws_profile",
    "region",
    "bucket",
    "key_prefix",
    "mysql_host",
    "mysql_port",
    "metadata_store",
    "trigger",
    "queue_batch_size",
    "max_file_bytes",
    "parallel_uploads",
    "poll_interval_ms",
]
# The settings this dialog edits (and therefore writes back to the config file).
EDITED_KEYS: tuple[EditedKey, ...] = get_args(EditedKey)


class EditedValues(TypedDict):
    """What the dialog's fields hold, under the settings' own names."""

    mode: str
    aws_endpoint: str
    aws_profile: str
    region: str
    bucket: str
    key_prefix: str
    mysql_host: str
    mysql_port: int
    metadata_store: str
    trigger: str
    queue_batch_size: int
    max_file_bytes: int
    parallel_uploads: int
    poll_interval_ms: int


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Settings")
        fm = self.fontMetrics()
        self.setMinimumWidth(fm.horizontalAdvance("M") * 42)
        layout = QVBoxLayout(self)

        where = QGroupBox("Where files go")
        form = QFormLayout(where)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.mode = QComboBox()
        self.mode.addItem("Local (LocalStack on this computer)", "local")
        self.mode.addItem("Amazon Web Services", "aws")
        self.endpoint = QLineEdit(settings.aws_endpoint)
        self.endpoint.setPlaceholderText("http://127.0.0.1:4566")
        self.profile = QLineEdit(settings.aws_profile)
        self.profile.setPlaceholderText("default credentials chain")
        self.region = QLineEdit(settings.region)
        self.bucket = QLineEdit(settings.bucket)
        self.prefix = QLineEdit(settings.key_prefix)
        self.prefix.setPlaceholderText("(bucket root)")
        form.addRow("&Mode:", self.mode)
        form.addRow("&Endpoint:", self.endpoint)
        form.addRow("AWS &profile:", self.profile)
        form.addRow("&Region:", self.region)
        form.addRow("&Bucket:", self.bucket)
        form.addRow("Key pre&fix:", self.prefix)
        layout.addWidget(where)

        meta = QGroupBox("Metadata")
        form2 = QFormLayout(meta)
        self.store = QComboBox()
        self.store.addItem("MySQL", "mysql")
        self.store.addItem("DynamoDB", "dynamodb")
        self.db_host = QLineEdit(settings.mysql_host)
        self.db_port = QSpinBox()
        self.db_port.setRange(1, 65535)
        self.db_port.setValue(settings.mysql_port)
        self.poll = QSpinBox()
        self.poll.setRange(250, 60_000)
        self.poll.setSingleStep(250)
        self.poll.setSuffix(" ms")
        self.poll.setValue(settings.poll_interval_ms)
        form2.addRow("Metadata &store:", self.store)
        form2.addRow("Database &host:", self.db_host)
        form2.addRow("Database p&ort:", self.db_port)
        form2.addRow("Refresh e&very:", self.poll)
        layout.addWidget(meta)

        processing = QGroupBox("Processing")
        form4 = QFormLayout(processing)
        self.trigger = QComboBox()
        self.trigger.addItem("S3 invokes the function for each upload", "direct")
        self.trigger.addItem("S3 -> SQS queue -> the function, in batches", "queue")
        self.trigger.setToolTip(
            "The queue gathers uploads into batches (one database transaction and one round of notices each); "
            "a file that keeps failing goes to a dead-letter queue. Takes effect when you press Set up environment."
        )
        self.batch = QSpinBox()
        # Above 10 AWS needs a batching window, which only the config file sets (problems() says so).
        self.batch.setRange(1, 10_000)
        self.batch.setSuffix(" files")
        self.batch.setValue(settings.queue_batch_size)
        self.trigger_note = QLabel("Applies when you press Set up environment.")
        self.trigger_note.setStyleSheet("color: palette(placeholder-text);")
        form4.addRow("&Trigger:", self.trigger)
        form4.addRow("&Batch size:", self.batch)
        form4.addRow("", self.trigger_note)
        layout.addWidget(processing)

        uploads = QGroupBox("Uploads")
        form3 = QFormLayout(uploads)
        self.max_mb = QSpinBox()
        self.max_mb.setRange(1, 5 * 1024)
        self.max_mb.setSuffix(" MB")
        self.max_mb.setValue(max(1, settings.max_file_bytes // MB))
        self.parallel = QSpinBox()
        self.parallel.setRange(1, 16)
        self.parallel.setValue(settings.parallel_uploads)
        form3.addRow("&Largest file:", self.max_mb)
        form3.addRow("&Parallel uploads:", self.parallel)
        layout.addWidget(uploads)

        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c62828;")
        self.problem.hide()
        layout.addWidget(self.problem)
        note = QLabel(f"Saved to {settings.config_path}")
        note.setStyleSheet("color: palette(placeholder-text);")
        note.setWordWrap(True)
        note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(note)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        # One label column across the three groups, so the fields line up.
        labels: list[QWidget] = []
        for form_ in (form, form2, form4, form3):
            for row in range(form_.rowCount()):
                item = form_.itemAt(row, QFormLayout.ItemRole.LabelRole)
                widget = item.widget() if item is not None else None
                if widget is not None:
                    labels.append(widget)
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)

        self.mode.setCurrentIndex(max(0, self.mode.findData(settings.mode)))
        self.store.setCurrentIndex(max(0, self.store.findData(settings.metadata_store)))
        self.trigger.setCurrentIndex(max(0, self.trigger.findData(settings.trigger)))
        for widget in (self.endpoint, self.profile, self.region, self.bucket, self.db_host):
            widget.textChanged.connect(self._check)
        self.mode.currentIndexChanged.connect(self._check)
        self.store.currentIndexChanged.connect(self._check)
        self.trigger.currentIndexChanged.connect(self._check)
        self.batch.valueChanged.connect(self._check)
        self._check()
        # What the widgets showed at first: a field counts as changed only when the user changed it
        # (so a 10 000-byte limit shown as "1 MB" is not silently rewritten).
        self._initial = self.values()

    def values(self) -> EditedValues:
        return {
            "mode": str(self.mode.currentData()),
            "aws_endpoint": self.endpoint.text().strip(),
            "aws_profile": self.profile.text().strip(),
            "region": self.region.text().strip(),
            "bucket": self.bucket.text().strip(),
            "key_prefix": self.prefix.text().strip(),
            "mysql_host": self.db_host.text().strip(),
            "mysql_port": self.db_port.value(),
            "metadata_store": str(self.store.currentData()),
            "trigger": str(self.trigger.currentData()),
            "queue_batch_size": self.batch.value(),
            "max_file_bytes": self.max_mb.value() * MB,
            "parallel_uploads": self.parallel.value(),
            "poll_interval_ms": self.poll.value(),
        }

    def result_settings(self) -> Settings:
        values = self.values()
        return self.settings.replace(**{k: values[k] for k in self.changed_keys()})

    def changed_keys(self) -> list[EditedKey]:
        values = self.values()
        return [k for k in EDITED_KEYS if values[k] != self._initial[k] and getattr(self.settings, k) != values[k]]

    def problems(self) -> list[str]:
        v = self.values()
        out = []
        if v["mode"] == "local" and not re.match(r"^https?://[^\s/]+", v["aws_endpoint"]):
            out.append("The endpoint must be a URL such as http://127.0.0.1:4566.")
        if not BUCKET_RE.match(v["bucket"]) or ".." in v["bucket"]:
            out.append("Bucket names are 3–63 lowercase letters, digits, dots and hyphens.")
        if not REGION_RE.match(v["region"]):
            out.append("The region looks like us-east-1.")
        if v["metadata_store"] == "mysql" and not v["mysql_host"]:
            out.append("Enter the database host.")
        if v["trigger"] == "queue" and v["queue_batch_size"] > 10 and self.settings.queue_batch_window_s < 1:
            out.append(
                "More than 10 files per batch needs a batching window (queue_batch_window_s in the config file)."
            )
        return out

    def _check(self, *_args: object) -> None:
        local = self.mode.currentData() == "local"
        self.endpoint.setEnabled(local)
        self.profile.setEnabled(not local)
        mysql = self.store.currentData() == "mysql"
        self.db_host.setEnabled(mysql)
        self.db_port.setEnabled(mysql)
        queued = self.trigger.currentData() == "queue"
        self.batch.setEnabled(queued)
        self.trigger_note.setVisible(self.trigger.currentData() != self.settings.trigger)
        problems = self.problems()
        self.problem.setText("\n".join(problems))
        self.problem.setVisible(bool(problems))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problems)
