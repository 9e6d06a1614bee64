"""The gate's per-key daily request counter and the chart's series: bounded memory, drains
and put-backs that lose nothing, UTC day boundaries, every day present."""

from __future__ import annotations

from datetime import date

from keyseal.domain.activity import DayUsage, daily_series
from keyseal.gate.activity import DAY_MS, RequestCounter

DAY = 20_413  # 2025-11-21 as days since 1970-01-01
AT = DAY * DAY_MS + 3_600_000


def test_counts_by_key_day_and_code() -> None:
    counter = RequestCounter()
    for _ in range(3):
        counter.count("k", AT)
    counter.count("k", AT, "50113")
    counter.count("j", AT, "50105")
    assert counter.drain() == {("k", DAY, "0"): 3, ("k", DAY, "50113"): 1,
                               ("j", DAY, "50105"): 1}
    assert counter.drain() == {} and len(counter) == 0


def test_a_day_is_a_utc_day() -> None:
    counter = RequestCounter()
    counter.count("k", (DAY + 1) * DAY_MS - 1)  # 23:59:59.999 UTC
    counter.count("k", (DAY + 1) * DAY_MS)  # midnight UTC: the next day
    assert counter.drain() == {("k", DAY, "0"): 1, ("k", DAY + 1, "0"): 1}


def test_the_map_is_bounded_and_says_what_it_dropped() -> None:
    counter = RequestCounter(capacity=2)
    counter.count("a", AT)
    counter.count("b", AT)
    for _ in range(5):
        counter.count("c", AT)  # no room for a third entry
    counter.count("a", AT)  # entries already there still count
    assert len(counter) == 2 and counter.dropped == 5
    assert counter.newly_dropped() == 5 and counter.newly_dropped() == 0  # told once
    assert counter.drain() == {("a", DAY, "0"): 2, ("b", DAY, "0"): 1}
    counter.count("c", AT)  # room again after the drain
    assert counter.drain() == {("c", DAY, "0"): 1}


def test_a_failed_batch_is_put_back_and_adds_to_what_came_meanwhile() -> None:
    counter = RequestCounter()
    counter.count("k", AT)
    counter.count("k", AT, "50113")
    batch = counter.drain()
    counter.count("k", AT)  # arrived while the write was failing
    counter.restore(batch)
    assert counter.drain() == {("k", DAY, "0"): 2, ("k", DAY, "50113"): 1}


def test_a_put_back_keeps_the_bound() -> None:
    counter = RequestCounter(capacity=2)
    counter.count("a", AT)
    counter.count("b", AT)
    batch = counter.drain()
    counter.count("c", AT)
    counter.count("d", AT)
    counter.restore(batch)  # a long outage: the map does not grow past its bound
    assert len(counter) == 2 and counter.dropped == 2


def test_the_series_has_every_day_oldest_first_with_zero_days() -> None:
    last = date(2026, 11, 21)
    rows = [(date(2026, 11, 21), "0", 5), (date(2026, 11, 21), "50113", 2),
            (date(2026, 11, 21), "50105", 1), (date(2026, 11, 19), "0", 1),
            (date(2026, 10, 1), "0", 99)]  # outside the window
    series = daily_series(rows, last, 3)
    assert series == [DayUsage(date(2026, 11, 19), 1, {}), DayUsage(date(2026, 11, 20)),
                      DayUsage(date(2026, 11, 21), 5, {"50105": 1, "50113": 2})]
    assert (series[-1].total, series[-1].refused) == (8, 3)
    assert list(series[-1].refusals) == ["50105", "50113"]  # codes in order, for the legend
    assert len(daily_series([], last, 30)) == 30
