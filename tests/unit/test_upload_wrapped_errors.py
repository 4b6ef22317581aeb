"""upload_file puts AWS errors that boto3 wraps in its own exception types into words, too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError
from testsupport import isolated_settings

from backend.upload import UploadError, upload_file


class _NoBucketClient:
    """boto3's managed upload turns NoSuchBucket into S3UploadFailedError (the ClientError is its context)."""

    def upload_file(self, *_args: Any, **_kwargs: Any) -> None:
        try:
            raise ClientError(
                {"Error": {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"}},
                "CreateMultipartUpload",
            )
        except ClientError as exc:
            raise S3UploadFailedError(f"Failed to upload /some/where/data.csv to b/k: {exc}")  # noqa: B904


def test_missing_bucket_says_run_setup_not_the_wrapped_text(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    # Large enough for the managed transfer (smaller files go in one PutObject, which raises ClientError itself).
    path.write_bytes(b"a\n" + b"1\n" * 600_000)
    settings = isolated_settings(tmp_path, bucket="gone-bucket")
    with pytest.raises(UploadError) as failure:
        upload_file(settings, path, key="data.csv", client=_NoBucketClient())
    message = str(failure.value)
    assert "the bucket 'gone-bucket' does not exist" in message and "Set up environment" in message, message
    assert "Failed to upload" not in message and "/some/where" not in message
