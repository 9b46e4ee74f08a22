"""The benchmark, the soak and the one way this project starts a server on this machine.

Entry points: ``uv run python bench/run.py`` (benchmark -> RESULTS.md), ``bench/soak.py``,
``bench/profile_server.py``. ``bench/README.md`` lists the modules.
"""
