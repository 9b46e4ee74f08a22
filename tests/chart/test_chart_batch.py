"""The batch scoring Indexed Job: what it runs, on which model and data, and its confinement."""

from __future__ import annotations

import helm_python as helm
import pytest

from predictor.batch.__main__ import parse as batch_settings
from tests.chart.conftest import BATCH_VALUES, CHART_DIR, NAMESPACE, S3_VALUES, Rendered
from tests.chart.test_chart_network_policy import policy, selects


def pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def container(job: dict) -> dict:
    (only,) = pod(job)["containers"]
    return only


def settings(job: dict, shard: int = 0):
    """What ``python -m predictor.batch`` makes of the Job's args in the pod of ``shard``."""
    assert container(job)["command"] == ["python", "-m", "predictor.batch"]
    return batch_settings(container(job)["args"], {"JOB_COMPLETION_INDEX": str(shard)})


def mounts(job: dict) -> dict[str, dict]:
    return {mount["mountPath"]: mount for mount in container(job)["volumeMounts"]}


def claims(job: dict) -> dict[str, dict]:
    volumes = pod(job)["volumes"]
    return {v["name"]: v["persistentVolumeClaim"] for v in volumes if "persistentVolumeClaim" in v}


def test_no_batch_job_unless_enabled(rendered_sets: dict[str, Rendered]) -> None:
    rendered = rendered_sets["defaults"]
    assert [job["metadata"]["labels"]["app.kubernetes.io/component"]
            for job in rendered.of_kind("Job")] == ["training"]  # fmt: skip
    assert "batch" not in [p["metadata"]["labels"]["app.kubernetes.io/component"]
                           for p in rendered.of_kind("NetworkPolicy")]  # fmt: skip


def test_shards_are_the_indexed_jobs_completions(render) -> None:
    job = render({"batch": BATCH_VALUES}).batch_job()
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == 4
    assert job["spec"]["parallelism"] == 2
    assert pod(job)["restartPolicy"] == "Never"
    for shard in range(4):  # each pod scores its own shard of the same input
        _, options = settings(job, shard)
        assert (options.shards, options.shard) == (4, shard)
        assert options.output == f"/mnt/data/scores/run-1/part-0000{shard}.csv"
    assert "ttlSecondsAfterFinished" not in job["spec"]  # a deleted Job would run again


def test_the_job_scores_with_the_served_version_from_the_model_claim_read_only(
    rendered_sets: dict[str, Rendered],
) -> None:
    rendered = rendered_sets["batch"]
    job = rendered.batch_job()
    model_dir, options = settings(job)
    storage_uri = next(e["value"] for e in rendered.predictor_container()["env"]
                       if e["name"] == "STORAGE_URI")  # fmt: skip
    claim, path = storage_uri.removeprefix("pvc://").split("/", 1)
    models = mounts(job)["/mnt/models"]
    assert models["readOnly"] is True and claims(job)[models["name"]] == {
        "claimName": claim,
        "readOnly": True,
    }
    # The claim's storage.pvc.path at /mnt/models: the served version directory below it.
    assert f"{models['subPath']}/{model_dir.removeprefix('/mnt/models/')}" == path
    data = mounts(job)["/mnt/data"]
    assert "readOnly" not in data and claims(job)[data["name"]] == {"claimName": "batch-data"}
    assert options.input == "/mnt/data/in/cases.csv"


def test_same_image_and_security_context_as_the_other_pods(
    rendered_sets: dict[str, Rendered],
) -> None:
    rendered = rendered_sets["batch"]
    job, training = rendered.batch_job(), rendered.job()
    assert container(job)["image"] == rendered.predictor_container()["image"]
    assert container(job)["securityContext"] == container(training)["securityContext"]
    assert pod(job)["securityContext"] == pod(training)["securityContext"]
    assert pod(job)["automountServiceAccountToken"] is False


def test_with_s3_the_model_and_data_come_from_the_bucket(
    rendered_sets: dict[str, Rendered],
) -> None:
    rendered = rendered_sets["batch-s3"]
    job = rendered.batch_job()
    model_dir, options = settings(job, 1)
    storage_uri = next(e["value"] for e in rendered.predictor_container()["env"]
                       if e["name"] == "STORAGE_URI")  # fmt: skip
    assert model_dir == storage_uri  # the prefix KServe downloads
    assert (options.input, options.output) == (
        "s3://data/in/cases.csv",
        "s3://data/out/part-00001.csv",
    )
    assert claims(job) == {} and list(mounts(job)) == ["/tmp"]
    # The same S3 settings and credentials as the training Job.
    assert container(job)["env"] == container(rendered.job())["env"][1:]  # minus MPLCONFIGDIR


def test_s3_data_with_a_model_on_the_claim(render) -> None:
    values = {"batch": {"enabled": True, "input": "s3://data/x.csv", "output": "s3://data/out"},
              "storage": {"s3": S3_VALUES}}  # fmt: skip
    job = render(values).batch_job()
    env = {item["name"]: item for item in container(job)["env"]}
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio.minio.svc:9000"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "s3-credentials"
    assert list(mounts(job)) == ["/tmp", "/mnt/models"]


def test_the_job_name_follows_what_it_does(render) -> None:
    """A changed input or model gets a new Job (a Job's template cannot be changed); other
    upgrades leave the finished Job alone."""
    name = render({"batch": BATCH_VALUES}).batch_job()["metadata"]["name"]
    assert name.startswith("breast-cancer-batch-")
    same = render({"batch": BATCH_VALUES, "replicaCount": 3, "autoscaling": {"enabled": False}})
    assert same.batch_job()["metadata"]["name"] == name
    other = render({"batch": {**BATCH_VALUES, "input": "in/other.csv"}})
    assert other.batch_job()["metadata"]["name"] != name
    retrained = render({"batch": BATCH_VALUES}, revision=2)  # serves rev-2
    assert retrained.batch_job()["metadata"]["name"] != name
    long = render({"batch": BATCH_VALUES, "fullnameOverride": "a" * 53}).batch_job()
    # Each pod's hostname is <job>-<index>: it must stay a 63-character DNS label.
    assert len(long["metadata"]["name"]) + len("-999") <= 63


def test_batch_pods_are_confined_like_the_training_jobs(rendered_sets, render) -> None:
    rendered = rendered_sets["batch"]
    batch = policy(rendered, "batch")
    assert selects(batch["spec"]["podSelector"], rendered.batch_job()["spec"]["template"]
                   ["metadata"]["labels"])  # fmt: skip
    assert not selects(batch["spec"]["podSelector"],
                       rendered.job()["spec"]["template"]["metadata"]["labels"])  # fmt: skip
    assert batch["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in batch["spec"]
    assert "annotations" not in batch["metadata"]  # a release resource, like the Job
    (dns,) = batch["spec"]["egress"]
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    egress = policy(rendered_sets["batch-s3"], "batch")["spec"]["egress"]
    assert egress[1] == {"ports": [{"port": 9000, "protocol": "TCP"}]}
    narrowed = render({"batch": BATCH_VALUES, "networkPolicy": {"batch": {
        "dnsTo": [{"namespaceSelector": {}}]}}})  # fmt: skip
    assert policy(narrowed, "batch")["spec"]["egress"][0]["to"] == [{"namespaceSelector": {}}]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"enabled": True}, "needs batch.input"),
        ({"enabled": True, "input": "a.csv", "output": "out"}, "set batch.dataClaim"),
        ({**BATCH_VALUES, "input": "../models/x.csv"}, "must stay inside batch.dataClaim"),
        ({**BATCH_VALUES, "output": "out/../../x"}, "must stay inside batch.dataClaim"),
        ({**BATCH_VALUES, "shards": 0}, "minimum"),
        ({**BATCH_VALUES, "input": "/abs/path.csv"}, "pattern"),
    ],
)
def test_unusable_batch_values_fail_the_render(batch: dict, message: str) -> None:
    with helm.Chart.load(CHART_DIR) as chart, pytest.raises(helm.HelmError, match=message):
        chart.render({"batch": batch}, name="breast-cancer", namespace=NAMESPACE)


def test_extra_args_env_and_ttl_are_passed(render) -> None:
    values = {**BATCH_VALUES, "args": ["--range_margin", "0.05"], "ttlSecondsAfterFinished": 600,
              "extraEnv": [{"name": "EXTRA", "value": "1"}]}  # fmt: skip
    job = render({"batch": values}).batch_job()
    assert settings(job)[1].range_margin == 0.05
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    assert {"name": "EXTRA", "value": "1"} in container(job)["env"]
