"""Batch scoring of CSV files: ``python -m predictor.batch`` (see ``__main__`` for the flags).

The same artifact checks (``predictor.loader``), validation wording (``predictor.problems``),
scores (the artifact's scorer), labels (``predictor.labels``) and out-of-range rule
(``predictor.ranges``) as the server, and no KServe: the command imports numpy, Arrow and the
model room only.

- ``split``/``scan``: the input's byte range for one shard, on record boundaries.
- ``rows``: text cells to the feature matrix; refused rows named as the API names instances.
- ``outputs``: the output columns and the errors file.
- ``storage``: local paths and ``s3://``; outputs appear whole or not at all.
- ``job``: one run, streamed in 1 MiB blocks, with progress on stderr.
"""
