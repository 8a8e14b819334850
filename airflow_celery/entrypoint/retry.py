"""The entrypoint's one way to wait: try until it works or the deadline passes, saying once what it waits for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
RETRY_INTERVAL = 2.0


def retry_until(
    deadline: float,
    attempt: Callable[[], T],
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    waiting: Callable[[BaseException], None],
    gave_up: Callable[[BaseException, int], Exception],
    interval: float = RETRY_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`attempt()`'s result, retried while it raises `retry_on`: `waiting(error)` after the first failure, then a
    try every `interval` seconds (never sleeping past `deadline`, a `time.monotonic()` value); a failure at or
    after the deadline raises `gave_up(error, attempts)`."""
    attempts = 0
    while True:
        attempts += 1
        try:
            return attempt()
        except retry_on as error:
            if time.monotonic() >= deadline:
                raise gave_up(error, attempts) from None
            if attempts == 1:
                waiting(error)
            sleep(min(interval, max(0.0, deadline - time.monotonic())))


def remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
