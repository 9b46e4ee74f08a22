"""Training faults: S3 refusing or vanishing mid-upload, and training SIGKILLed mid-write.

In every case the predictor must keep loading the previous artifact (or find nothing to load),
never a half-written one. Unreachable endpoints (closed port, real retries) are covered in
tests/code/test_storage.py; a tampered pickle in tests/code/test_artifact.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from moto.core import enable_iam_authentication

import training.s3
from predictor.artifact import LATEST_FILENAME, ArtifactError
from predictor.loader import load_artifact
from predictor.manifest import MANIFEST_FILENAME
from tests.moto_s3 import MotoS3
from tests.support import ROOT
from training.__main__ import main as training_main
from training.run import EXIT_OK, EXIT_STORAGE_ERROR
from training.s3 import s3_artifact_is_valid, s3_client
from training.storage import STAGING_PREFIX, local_artifact_is_valid

BUCKET = "models"
PREFIX = "breast-cancer"
URI = f"s3://{BUCKET}/{PREFIX}"
TRAIN_FAST = ["--no-plots", "--cv-folds", "2"]


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch):
    s3 = MotoS3()
    s3.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3.endpoint)
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])  # moto's state is per process
    yield s3
    s3.stop()


def download(endpoint: str, target: Path) -> Path:
    """What KServe's storage initializer does: copy every object under the prefix."""
    client = boto3.client("s3", endpoint_url=endpoint)
    for item in client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", []):
        local = target / item["Key"][len(PREFIX) :].lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(BUCKET, item["Key"], str(local))
    target.mkdir(parents=True, exist_ok=True)
    return target


def latest_in_bucket(endpoint: str) -> str | None:
    client = boto3.client("s3", endpoint_url=endpoint)
    try:
        body = client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{LATEST_FILENAME}")["Body"]
    except client.exceptions.NoSuchKey:
        return None
    return body.read().decode().strip()


def test_s3_wrong_credentials_fail_at_once_naming_endpoint_and_bucket(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A 403 is not retried: exit 3 quickly, the message says where and why; nothing written."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    started = time.monotonic()
    with enable_iam_authentication():
        code = training_main(["--output", URI, *TRAIN_FAST])
    elapsed = time.monotonic() - started
    error = capsys.readouterr().err
    assert code == EXIT_STORAGE_ERROR
    assert moto_s3.endpoint in error
    assert f"bucket '{BUCKET}'" in error
    assert "InvalidAccessKeyId" in error
    assert elapsed < 30
    assert latest_in_bucket(moto_s3.endpoint) is None
    with enable_iam_authentication(), pytest.raises(Exception, match="InvalidAccessKeyId"):
        boto3.client("s3", endpoint_url=moto_s3.endpoint).list_objects_v2(Bucket=BUCKET)


def stop_server_before_put(monkeypatch, moto_s3: MotoS3, key_suffix: str, attempts: int):
    """Make training's S3 client stop the server just before uploading ``key_suffix``."""
    uploads: list[str] = []
    sends: list[str] = []

    def client_that_loses_its_server(endpoint, max_attempts=attempts):
        client = s3_client(endpoint, max_attempts=attempts)

        def before_put(params, **_):
            uploads.append(params["Key"])
            if params["Key"].endswith(key_suffix):
                moto_s3.stop()

        def before_send(request, **_):
            sends.append(request.url)

        client.meta.events.register("before-parameter-build.s3.PutObject", before_put)
        client.meta.events.register("before-send.s3.PutObject", before_send)
        return client

    monkeypatch.setattr(training.s3, "s3_client", client_that_loses_its_server)
    return uploads, sends


@pytest.mark.parametrize(
    "stop_before",
    ["metadata.json", MANIFEST_FILENAME, LATEST_FILENAME],
    ids=["after-the-model-file", "before-the-manifest", "before-LATEST"],
)
def test_s3_server_lost_mid_upload_keeps_the_previous_version_current(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys, stop_before: str
) -> None:
    assert training_main(["--output", URI, *TRAIN_FAST]) == EXIT_OK
    previous = latest_in_bucket(moto_s3.endpoint)
    uploads, _ = stop_server_before_put(monkeypatch, moto_s3, stop_before, attempts=2)
    code = training_main(["--output", URI, *TRAIN_FAST])
    error = capsys.readouterr().err
    assert code == EXIT_STORAGE_ERROR
    assert moto_s3.endpoint in error and f"bucket '{BUCKET}'" in error
    assert "LATEST still names the previous version" in error
    assert len(uploads) >= 2, "the server must have gone away mid-upload"
    moto_s3.start()  # the store comes back: what would the predictor load now?
    assert latest_in_bucket(moto_s3.endpoint) == previous
    local = download(moto_s3.endpoint, tmp_path / "mnt")
    assert load_artifact(local).version == previous
    half_written = uploads[0].split("/")[1]  # the version being uploaded
    assert half_written != previous and (local / half_written).is_dir()
    assert s3_artifact_is_valid(URI, s3_client(moto_s3.endpoint))
    # Upload order: the version's files, then the manifest listing them, then LATEST.
    names = [key.rsplit("/", 1)[-1] for key in uploads]
    assert names[-1] == stop_before
    assert names.index("model.joblib") < names.index("metadata.json")
    if stop_before != "metadata.json":
        assert names.index(MANIFEST_FILENAME) == len(set(names) - {LATEST_FILENAME}) - 1
    if stop_before != LATEST_FILENAME:
        with pytest.raises(ArtifactError):  # an unfinished version is never loadable
            load_artifact(local / half_written)


def test_s3_first_upload_lost_mid_way_leaves_nothing_loadable(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stop_server_before_put(monkeypatch, moto_s3, "metadata.json", attempts=2)
    assert training_main(["--output", URI, *TRAIN_FAST]) == EXIT_STORAGE_ERROR
    moto_s3.start()
    assert latest_in_bucket(moto_s3.endpoint) is None
    with pytest.raises(ArtifactError, match="no LATEST file"):
        load_artifact(download(moto_s3.endpoint, tmp_path / "mnt"))
    assert not s3_artifact_is_valid(URI, s3_client(moto_s3.endpoint))


@pytest.mark.slow
def test_s3_lost_mid_upload_is_retried_with_backoff_then_given_up(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped retry policy (5 attempts, standard backoff) against a vanished server."""
    from training.s3 import S3_MAX_ATTEMPTS

    _, sends = stop_server_before_put(monkeypatch, moto_s3, "metadata.json", S3_MAX_ATTEMPTS)
    started = time.monotonic()
    assert training_main(["--output", URI, *TRAIN_FAST]) == EXIT_STORAGE_ERROR
    elapsed = time.monotonic() - started
    metadata_sends = [url for url in sends if url.endswith("metadata.json")]
    # botocore's ``max_attempts`` counts retries: the first try plus S3_MAX_ATTEMPTS more.
    assert len(metadata_sends) == S3_MAX_ATTEMPTS + 1
    assert elapsed < 60


# ---- SIGKILL while writing a local (PVC) artifact -------------------------------------------

# Runs real training in a subprocess and parks it (sleeps) at one point of the write, so the
# test can SIGKILL it exactly there. Audit hooks see every open() and rename()/replace().
PARKING_TRAINER = """
import os, sys, time
point, output = sys.argv[1], sys.argv[2]

def park():
    print("PARKED", flush=True)
    time.sleep(120)

def hook(event, args):
    if event == "open" and point == "metadata-being-written":
        path = os.fspath(args[0]) if isinstance(args[0], (str, os.PathLike)) else ""
        if ".staging-" in path and path.endswith("metadata.json") and "w" in str(args[1]):
            park()
    elif event == "os.rename":
        source, target = os.fspath(args[0]), os.fspath(args[1])
        if point == "staged-not-renamed" and ".staging-" in source and "LATEST" not in source:
            park()
        if point == "renamed-latest-not-replaced" and target.endswith("LATEST"):
            park()

sys.addaudithook(hook)
from training.__main__ import main
sys.exit(main(["--output", output, "--no-plots", "--cv-folds", "2"]))
"""


def train_and_kill_at(point: str, output: Path) -> None:
    """Real training in a subprocess, parked at ``point`` of the write, then SIGKILLed."""
    process = subprocess.Popen(
        [sys.executable, "-c", PARKING_TRAINER, point, str(output)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()  # blocks until parked (or the process ends)
        assert line.strip() == "PARKED", f"training ended without reaching {point}"
        process.kill()
        assert process.wait(timeout=10) == -9
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


@pytest.mark.parametrize(
    "point",
    [
        "metadata-being-written",
        pytest.param("staged-not-renamed", marks=pytest.mark.slow),
        pytest.param("renamed-latest-not-replaced", marks=pytest.mark.slow),
    ],
)
def test_training_sigkilled_mid_write_keeps_the_previous_model(
    trained_dir: Path, tmp_path: Path, point: str
) -> None:
    output = tmp_path / "models"
    shutil.copytree(trained_dir, output)
    previous = load_artifact(trained_dir).version
    train_and_kill_at(point, output)
    names = {p.name for p in output.iterdir()}
    if point == "renamed-latest-not-replaced":
        new_versions = names - {p.name for p in trained_dir.iterdir()} - {LATEST_FILENAME}
        assert any(not n.startswith(STAGING_PREFIX) for n in new_versions), names
    else:
        assert any(n.startswith(STAGING_PREFIX) for n in names), names
    assert (output / LATEST_FILENAME).read_text().strip() == previous
    assert load_artifact(output).version == previous
    assert local_artifact_is_valid(output)
    # The next successful run clears the leftovers and publishes a new, complete version.
    assert training_main(["--output", str(output), *TRAIN_FAST]) == EXIT_OK
    assert not [p for p in output.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert load_artifact(output).version not in (previous, *names)
