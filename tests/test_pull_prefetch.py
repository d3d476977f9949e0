"""Read-ahead of pulled chunks: order kept, the producer's error surfaces in the consumer, and
leaving early stops the producer and closes its source (the client connection)."""

from __future__ import annotations

import threading

import pytest

from pipelines.sources.prefetch import prefetch


def test_items_arrive_in_order_and_at_most_depth_wait():
    produced = []
    consumed_first = threading.Event()

    def source():
        for i in range(10):
            produced.append(i)
            yield i
            if i == 0:
                consumed_first.wait(timeout=10)

    out = []
    for item in prefetch(source(), depth=2):
        out.append(item)
        consumed_first.set()
    assert out == list(range(10)) == produced


def test_a_producer_error_is_raised_to_the_consumer():
    def source():
        yield 1
        raise ValueError("the client database went away")

    got = []
    with pytest.raises(ValueError, match="went away"):
        for item in prefetch(source()):
            got.append(item)
    assert got == [1]


def test_leaving_early_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from range(1_000)
        finally:
            closed.set()

    for item in prefetch(source(), depth=1):
        if item == 3:
            break
    assert closed.is_set()
