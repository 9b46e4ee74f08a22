"""Artifact publishing: atomic local versions, and a real S3-protocol round trip (moto server)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from predictor.artifact import LATEST_FILENAME
from predictor.linear_model import LINEAR_MODEL_FILENAME
from predictor.loader import load_artifact
from tests.support import free_port, write_label_shuffled_csv
from training.__main__ import main as training_main
from training.run import EXIT_OK, EXIT_REFUSED, EXIT_STORAGE_ERROR
from training.s3 import S3Destination
from training.storage import STAGING_PREFIX, local_artifact_is_valid, write_local

FILES = {"model.joblib": b"model", "metadata.json": b"{}"}


def test_write_local_points_latest_at_the_new_version(tmp_path: Path) -> None:
    write_local(tmp_path, "v1", FILES, keep=5)
    write_local(tmp_path, "v2", FILES, keep=5)
    assert (tmp_path / LATEST_FILENAME).read_text().strip() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST_FILENAME, "v1", "v2"]


def test_write_local_keeps_the_newest_versions_and_removes_staging_leftovers(
    tmp_path: Path,
) -> None:
    (tmp_path / f"{STAGING_PREFIX}crashed-run").mkdir(parents=True)
    for version in ("v1", "v2", "v3"):
        write_local(tmp_path, version, FILES, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST_FILENAME, "v2", "v3"]


def test_versions_are_pruned_by_write_time_not_by_name(tmp_path: Path) -> None:
    """Revision names do not sort by age ("rev-10" < "rev-9"); the oldest written goes."""
    for age, version in ((300, "rev-9"), (200, "rev-10")):
        write_local(tmp_path, version, FILES, keep=2)
        written = time.time() - age
        os.utime(tmp_path / version, (written, written))
    write_local(tmp_path, "rev-11", FILES, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST_FILENAME, "rev-10", "rev-11"]


def test_a_version_of_the_same_name_is_replaced(tmp_path: Path) -> None:
    """A release installed anew on a kept claim writes rev-1 again: the new files win."""
    write_local(tmp_path, "rev-1", {**FILES, "model.joblib": b"first install"}, keep=5)
    write_local(tmp_path, "rev-2", FILES, keep=5)
    write_local(tmp_path, "rev-1", {**FILES, "model.joblib": b"second install"}, keep=5)
    assert (tmp_path / "rev-1" / "model.joblib").read_bytes() == b"second install"
    assert (tmp_path / LATEST_FILENAME).read_text().strip() == "rev-1"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST_FILENAME, "rev-1", "rev-2"]


def test_skip_if_present_with_a_version_checks_that_version_only(
    trained_dir: Path, tmp_path: Path, capsys
) -> None:
    output = tmp_path / "models"
    shutil.copytree(trained_dir, output)
    current = (output / LATEST_FILENAME).read_text().strip()
    assert training_main(["--output", str(output), "--version", current, "--skip-if-present"]) == 0
    assert f"version {current} in {output} is valid; skipping training" in capsys.readouterr().err
    # LATEST is valid, but the named version is absent: it is trained.
    arguments = ["--output", str(output), "--version", "rev-2", "--skip-if-present"]
    assert training_main([*arguments, "--no-plots", "--cv-folds", "2"]) == EXIT_OK
    assert "wrote version rev-2" in capsys.readouterr().err
    assert (output / LATEST_FILENAME).read_text().strip() == "rev-2"
    # Each version directory serves exactly its own model, whatever LATEST names.
    assert load_artifact(output / current).version == current
    assert load_artifact(output / "rev-2").version == "rev-2"


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", ""])
def test_version_names_that_are_not_one_directory_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        training_main(["--output", str(tmp_path), "--version", name])
    assert exited.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_previous_model_loadable(
    trained_dir: Path, tmp_path: Path
) -> None:
    """What a crash mid-write leaves (a staging dir with a partial file) is never loaded."""
    destination = tmp_path / "models"
    shutil.copytree(trained_dir, destination)
    before = load_artifact(destination).version
    partial = destination / f"{STAGING_PREFIX}20991231T000000Z-dead"
    partial.mkdir()
    (partial / "model.joblib").write_bytes(b"\x80\x04 truncated")
    assert load_artifact(destination).version == before
    assert local_artifact_is_valid(destination)


def test_skip_if_present_does_not_retrain(trained_dir: Path, capsys) -> None:
    versions_before = sorted(p.name for p in trained_dir.iterdir())
    assert training_main(["--output", str(trained_dir), "--skip-if-present"]) == EXIT_OK
    assert "skipping training" in capsys.readouterr().err
    assert sorted(p.name for p in trained_dir.iterdir()) == versions_before


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch):
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="models")
    yield endpoint
    server.stop()


def download_prefix(endpoint: str, bucket: str, prefix: str, target: Path) -> Path:
    """What KServe's storage initializer does: copy every object under the prefix."""
    client = boto3.client("s3", endpoint_url=endpoint)
    for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        local = target / item["Key"][len(prefix) :].lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, item["Key"], str(local))
    return target


def test_s3_round_trip_loads_in_the_predictor(s3_endpoint: str, tmp_path: Path, capsys) -> None:
    uri = "s3://models/breast-cancer"
    assert training_main(["--output", uri, "--no-plots"]) == EXIT_OK
    local = download_prefix(s3_endpoint, "models", "breast-cancer", tmp_path / "mnt")
    artifact = load_artifact(local)
    assert artifact.manifest_sha256 and artifact.scorer_file == LINEAR_MODEL_FILENAME
    assert artifact.scorer.probability_malignant([[1.0] * 30]).shape == (1,)
    assert training_main(["--output", uri, "--skip-if-present"]) == EXIT_OK
    assert "skipping training" in capsys.readouterr().err
    destination = S3Destination.from_uri(uri)
    assert destination.holds_valid_artifact(artifact.version)
    assert not destination.holds_valid_artifact("rev-404")


def test_s3_refused_challenger_leaves_latest_and_writes_nothing(
    s3_endpoint: str, tmp_path: Path, capsys
) -> None:
    """The champion is read from the bucket as the predictor would; a refused model is not
    uploaded at all."""
    uri, client = "s3://models/breast-cancer", boto3.client("s3", endpoint_url=s3_endpoint)
    assert training_main(["--output", uri, "--no-plots", "--version", "rev-1"]) == EXIT_OK
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="models")["Contents"])
    assert "breast-cancer/rev-1/promotion.json" in keys
    shuffled = write_label_shuffled_csv(tmp_path / "shuffled.csv")
    arguments = ["--output", uri, "--no-plots", "--data", str(shuffled), "--version", "rev-2"]
    assert training_main(arguments) == EXIT_REFUSED
    error = capsys.readouterr().err
    assert "compared with champion rev-1 on the same hold-out rows" in error
    assert "promotion refused: roc_auc" in error and "LATEST still names rev-1" in error
    assert sorted(o["Key"] for o in client.list_objects_v2(Bucket="models")["Contents"]) == keys
    latest = client.get_object(Bucket="models", Key="breast-cancer/LATEST")["Body"].read()
    assert latest == b"rev-1\n"


def test_s3_missing_bucket_fails_before_training(s3_endpoint: str, capsys) -> None:
    assert training_main(["--output", "s3://no-such-bucket/x", "--no-plots"]) == EXIT_STORAGE_ERROR
    error = capsys.readouterr().err
    assert s3_endpoint in error and "bucket 'no-such-bucket'" in error and "NoSuchBucket" in error
    assert "checked before training; nothing was trained" in error
    assert "cv fold" not in error


def test_s3_unreachable_fails_with_endpoint_and_bucket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    started = time.monotonic()
    assert training_main(["--output", "s3://models/x", "--no-plots"]) == EXIT_STORAGE_ERROR
    error = capsys.readouterr().err
    assert closed in error
    assert "bucket 'models'" in error
    assert time.monotonic() - started < 60
