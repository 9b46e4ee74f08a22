"""Batch scoring of CSV and Parquet files: ``python -m predictor.batch`` (``__main__``: flags).

The same artifact checks (``predictor.loader``), validation wording (``predictor.problems``),
scores (the artifact's scorer), labels (``predictor.labels``) and out-of-range rule
(``predictor.ranges``) as the server, and no KServe: the command imports numpy, Arrow and the
model room only.

- ``source``: which reader; ``csv_source`` (with ``split``/``scan``: a shard's byte range, cut on
  record boundaries) and ``parquet_source`` (a shard's rows, by row group).
- ``rows``: cells to the feature matrix; refused rows named as the API names instances.
- ``outputs``: the output columns and the errors file.
- ``storage`` (local paths) and ``s3``: outputs appear whole or not at all.
- ``job``: one run, batch by batch in constant memory, with progress on stderr.
"""
