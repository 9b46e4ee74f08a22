"""``python -m predictor`` with every :mod:`predictor.fastpath` step where it belongs.

Same flags as ``python -m predictor``. Whatever ``__main__`` and ``predictor/server.py``
already apply is applied again harmlessly (each step is idempotent); this wrapper adds what
they may not: the GC pause from the very first import (``fastpath.begin_startup`` must run
before kserve and scikit-learn are imported to save the ~0.2 s), ``end_startup`` right after
``model.load()``. (The faster ``json_depth`` it once swapped in is now in
``predictor/limits.py``.) ``tune`` runs at import, so it also runs in each ``--workers``
child (multiprocessing's spawn re-imports this file as ``__mp_main__``); the GC pause is
for the serving parent only (children never call load()).

Run: ``python bench/serve_tuned.py --model_dir DIR --http_port P --grpc_port G``
"""

from __future__ import annotations

import gc

if __name__ == "__main__":
    gc.disable()  # fastpath.begin_startup(), before the heavy imports below

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from predictor import fastpath
from predictor.__main__ import main
from predictor.model import BreastCancerModel

fastpath.tune(os.environ.get("BENCH_EVENT_LOOP", "auto"))


def load_then_freeze(model: BreastCancerModel, load=BreastCancerModel.load) -> bool:
    """``model.load()`` then ``fastpath.end_startup()``: where __main__ would call it."""
    try:
        return load(model)
    finally:
        fastpath.end_startup()


if __name__ == "__main__":
    BreastCancerModel.load = load_then_freeze
    sys.exit(main())
