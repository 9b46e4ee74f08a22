"""The batch CLI on ``s3://`` (moto's real S3 server): input, output, shards, the model.

The same rows scored from a local file are the reference: the objects must hold exactly the
bytes a local run writes.
"""

from __future__ import annotations

import io
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from bench.batch_data import wdbc_like
from predictor.batch.__main__ import EXIT_IO, EXIT_OK, main
from predictor.batch.s3 import PART_BYTES
from tests.moto_s3 import MotoS3
from training.__main__ import main as training_main

BUCKET = "batch"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    server = MotoS3()
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=server.endpoint)
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])  # moto's state is per process
    yield client
    server.stop()


def cases_csv(rows: int, note_bytes: int = 0) -> bytes:
    """WDBC-like rows, the 4th one refused (a string), with an optional long ``note`` column."""
    table = wdbc_like(rows, seed=5)
    if note_bytes:
        table = table.append_column("note", pa.array(["n" * note_bytes] * rows))
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    lines = buffer.getvalue().split(b"\n")
    fields = lines[4].split(b",")
    fields[3] = b"oops"
    lines[4] = b",".join(fields)
    return b"\n".join(lines)


def object_bytes(client, key: str, bucket: str = BUCKET) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def score_locally(trained_dir: Path, data: bytes, directory: Path) -> tuple[bytes, bytes]:
    (source := directory / "cases.csv").write_bytes(data)
    arguments = ["--input", str(source), "--output", str(directory / "scores.csv")]
    assert main(["--model_dir", str(trained_dir), *arguments], {}) == EXIT_OK
    return (directory / "scores.csv").read_bytes(), (directory / "scores.errors.csv").read_bytes()


def test_input_and_output_in_a_bucket(s3, trained_dir: Path, tmp_path: Path) -> None:
    data = cases_csv(3_000)
    s3.put_object(Bucket=BUCKET, Key="in/cases.csv", Body=data)
    arguments = ["--input", f"s3://{BUCKET}/in/cases.csv", "--output", f"s3://{BUCKET}/out/s.csv"]
    assert main(["--model_dir", str(trained_dir), *arguments], {}) == EXIT_OK
    scores, errors = score_locally(trained_dir, data, tmp_path)
    assert object_bytes(s3, "out/s.csv") == scores
    assert object_bytes(s3, "out/s.errors.csv") == errors
    assert errors.count(b"\n") == 2  # the header and the one refused row


def test_shards_write_parts_under_a_prefix(s3, trained_dir: Path, tmp_path: Path) -> None:
    data = cases_csv(3_000)
    s3.put_object(Bucket=BUCKET, Key="in/cases.csv", Body=data)
    for shard in range(2):
        arguments = ["--input", f"s3://{BUCKET}/in/cases.csv", "--output",
                     f"s3://{BUCKET}/parts/", "--shards", "2"]  # fmt: skip
        environ = {"JOB_COMPLETION_INDEX": str(shard)}
        assert main(["--model_dir", str(trained_dir), *arguments], environ) == EXIT_OK
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="parts/")["Contents"]]
    assert sorted(keys) == [f"parts/part-0000{i}{kind}" for i in range(2)
                            for kind in (".csv", ".errors.csv")]  # fmt: skip
    _, errors = score_locally(trained_dir, data, tmp_path)
    header, body = errors.split(b"\n", 1)
    parts = [object_bytes(s3, f"parts/part-0000{i}.errors.csv") for i in range(2)]
    assert b"".join(part.removeprefix(header + b"\n") for part in parts) == body


def test_an_output_larger_than_a_part_is_uploaded_in_parts(
    s3, trained_dir: Path, tmp_path: Path
) -> None:
    data = cases_csv(40_000, note_bytes=300)
    s3.put_object(Bucket=BUCKET, Key="in/big.csv", Body=data)
    arguments = ["--input", f"s3://{BUCKET}/in/big.csv", "--output", f"s3://{BUCKET}/out/big.csv"]
    assert main(["--model_dir", str(trained_dir), *arguments], {}) == EXIT_OK
    scores, _ = score_locally(trained_dir, data, tmp_path)
    assert len(scores) > PART_BYTES
    head = s3.head_object(Bucket=BUCKET, Key="out/big.csv")
    assert head["ETag"].strip('"').endswith("-2")  # a multipart upload of two parts
    assert object_bytes(s3, "out/big.csv") == scores


def test_a_failed_run_leaves_no_object_and_no_upload(s3, trained_dir: Path) -> None:
    """The input turns out not to be UTF-8 after more than a part was uploaded."""
    data = cases_csv(40_000, note_bytes=300)
    at = data.index(b"\n", len(data) * 3 // 4) + 1
    s3.put_object(Bucket=BUCKET, Key="in/bad.csv", Body=data[:at] + b'"\xff' + data[at + 2 :])
    arguments = ["--input", f"s3://{BUCKET}/in/bad.csv", "--output", f"s3://{BUCKET}/out/x.csv"]
    assert main(["--model_dir", str(trained_dir), *arguments], {}) == EXIT_IO
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_missing_object_is_named(s3, trained_dir: Path, tmp_path: Path, capsys) -> None:
    arguments = ["--input", f"s3://{BUCKET}/in/none.csv", "--output", str(tmp_path / "o.csv")]
    assert main(["--model_dir", str(trained_dir), *arguments], {}) == EXIT_IO
    error = capsys.readouterr().err
    assert f"cannot read s3://{BUCKET}/in/none.csv at endpoint http://127.0.0.1" in error
    assert "NoSuchKey" in error
    assert list(tmp_path.iterdir()) == []


def test_the_model_can_come_from_a_bucket(s3, tmp_path: Path, capsys) -> None:
    """What the chart's Job does with storage.type=s3: the model prefix training wrote."""
    s3.create_bucket(Bucket="models")
    uri = "s3://models/breast-cancer"
    assert training_main(["--output", uri, "--no-plots", "--cv-folds", "2"]) == EXIT_OK
    version = object_bytes(s3, "breast-cancer/LATEST", bucket="models").decode().strip()
    (source := tmp_path / "cases.csv").write_bytes(cases_csv(100))
    output = tmp_path / "scores.csv"
    arguments = ["--input", str(source), "--output", str(output)]
    assert main(["--model_dir", f"{uri}/{version}", *arguments], {}) == EXIT_OK
    assert f"model version {version}" in capsys.readouterr().err
    assert {row["model_version"] for row in pacsv.read_csv(output).to_pylist()} == {version}
    assert main(["--model_dir", "s3://models/nothing-here", *arguments], {}) == 2
    assert "no trained model under s3://models/nothing-here" in capsys.readouterr().err


def test_a_parquet_object_is_read_by_ranges(s3, trained_dir: Path, tmp_path: Path) -> None:
    """Parquet needs random access: the shard's row groups, read with ranged GETs."""
    import pyarrow.parquet as pq

    pq.write_table(wdbc_like(3_000, seed=6), tmp_path / "cases.parquet", row_group_size=500)
    s3.upload_file(str(tmp_path / "cases.parquet"), BUCKET, "in/cases.parquet")
    for where in (f"s3://{BUCKET}/in/cases.parquet", str(tmp_path / "cases.parquet")):
        name = "remote" if where.startswith("s3://") else "local"
        arguments = ["--input", where, "--output", str(tmp_path / name), "--shards", "2"]
        assert main(["--model_dir", str(trained_dir), *arguments, "--shard", "1"], {}) == EXIT_OK
    remote = (tmp_path / "remote" / "part-00001.csv").read_bytes()
    assert remote == (tmp_path / "local" / "part-00001.csv").read_bytes()
    assert remote.count(b"\n") == 1 + 1_500
