"""Process start-up: KServe imported safely, no cyclic GC while importing, a frozen heap.

``begin`` and ``import_kserve`` run first in ``python -m predictor``, before anything else
imports KServe (else neither helps); ``end`` once the model is loaded, and in every
``--workers`` child, which never runs ``__main__``. Measured with ``bench/run.py``:
importing and loading create ~190k long-lived objects, and collecting cycles among them
while they are created costs ~0.2 s (~7% of start-up). Freezing them afterwards keeps the
full collections a large request triggers from walking every module, class and function
object (a 10,000-instance request: p99 125-160 ms -> 20-35 ms).
"""

from __future__ import annotations

import contextlib
import gc
import io
import sys

from predictor.serving import deferred_imports

GC_GEN0_THRESHOLD = 50_000


def begin() -> None:
    """Pause the cyclic garbage collector while modules import and the model loads."""
    gc.disable()


def end() -> None:
    """Keep everything alive now out of every later collection, and resume collecting.

    No ``gc.collect()`` first: it would cost ~0.2 s of start-up to free ~2,500 cyclic
    objects left by the imports (a few hundred KB, now frozen for good). The first
    generation's threshold goes from 700 to ``GC_GEN0_THRESHOLD`` net new container
    objects: decoding a 10,000-instance body creates 10,000 lists, which at 700 meant 14
    collections (~1.9 ms) per request; requests free what they allocate, so at 50,000 a
    collection is rare, and it only walks what is young (the start-up heap is frozen).
    """
    gc.freeze()
    _, *older = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, *older)
    gc.enable()


def import_kserve() -> None:
    """Import KServe, minus what a model server never uses (:mod:`.deferred_imports`), so
    that a bad server flag cannot end start-up with a usage dump.

    Works around KServe 0.21 (canary: ``tests/upstream/test_startup.py``):
    ``kserve.model_server`` parses ``sys.argv`` when it is first imported and, on a value of
    the wrong type (``--http_port x``), prints its whole usage and exits. If that happens it
    is imported again with the arguments hidden, and ``predictor.settings`` then refuses the
    value in one line (its parser holds KServe's flags with the same types). When the
    arguments are fine, KServe reads them as usual (its app's ``/docs`` depends on them).
    """
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            deferred_imports.import_kserve()
    except SystemExit:
        arguments, sys.argv = sys.argv, sys.argv[:1]
        try:
            deferred_imports.import_kserve()
        finally:
            sys.argv = arguments
    else:
        sys.stderr.write(captured.getvalue())
