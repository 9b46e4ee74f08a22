"""An argument whose unpickling takes a while, like a child process importing KServe."""

from __future__ import annotations

import time


def arrive_late(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


class SlowToUnpickle:
    def __init__(self, seconds: float):
        self.seconds = seconds

    def __reduce__(self):
        return arrive_late, (self.seconds,)
