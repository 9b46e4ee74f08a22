"""S3-compatible object storage, configured the way KServe's storage initializer is.

One client construction for everything that talks to a bucket: training publishing an artifact
(``training.s3``) and the batch CLI reading its input, writing its output and fetching a model
(``predictor.batch``). The endpoint comes from ``AWS_ENDPOINT_URL``, or KServe's
``S3_ENDPOINT`` (``host:port``) with ``S3_USE_HTTPS`` (``0`` for plain HTTP); credentials and
region from boto3's usual sources (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, a pod identity, ...). boto3 takes about a second to import: it is
imported when the first client is made, not with this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

S3_SCHEME = "s3://"
S3_MAX_ATTEMPTS = 5
S3_TIMEOUT_SECONDS = 10


def s3_endpoint(environ: Mapping[str, str] = os.environ) -> str | None:
    """The endpoint from ``AWS_ENDPOINT_URL`` or KServe's ``S3_ENDPOINT`` (+ ``S3_USE_HTTPS``)."""
    endpoint = environ.get("AWS_ENDPOINT_URL") or environ.get("S3_ENDPOINT")
    if endpoint and "://" not in endpoint:
        scheme = "http" if environ.get("S3_USE_HTTPS", "1") == "0" else "https"
        endpoint = f"{scheme}://{endpoint}"
    return endpoint or None


def s3_client(endpoint: str | None, max_attempts: int = S3_MAX_ATTEMPTS):
    """A client with bounded retries (exponential backoff) and short timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=S3_TIMEOUT_SECONDS,
        read_timeout=S3_TIMEOUT_SECONDS,
    )
    return boto3.client("s3", endpoint_url=endpoint, config=config)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ``("bucket", "some/key")``.

    Raises:
        ValueError: Not an ``s3://`` URI with a bucket.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{uri!r} is not an s3://bucket/prefix URI")
    return parsed.netloc, parsed.path.lstrip("/")


def download_prefix(client, bucket: str, prefix: str, target: Path) -> int:
    """Copy every object under ``prefix`` into ``target``, as KServe's storage initializer does.

    Returns:
        How many objects were copied.
    """
    prefix = prefix.strip("/")
    copied = 0
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
    ):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :].lstrip("/")
            if not relative or relative.endswith("/"):
                continue  # a "directory" placeholder object
            local = target / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item["Key"], str(local))
            copied += 1
    return copied
