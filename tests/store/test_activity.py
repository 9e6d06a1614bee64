"""Requests per key and day, on SQLite and PostgreSQL: batches add up (across processes
too), the chart's series has every day, only the key's owner and its master see it, and
the rows go with their key."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from keyseal import errors
from keyseal.clock import ManualClock
from keyseal.domain.actors import OPERATOR, Actor
from keyseal.domain.commands import CreateKey, CreateSubAccount, DeleteKey
from keyseal.domain.keys import Environment
from keyseal.gate.activity import DAY_MS, RequestCounter
from keyseal.services import accounts as account_service
from keyseal.services import activity as activity_service
from keyseal.services import keys as key_service
from keyseal.services.runtime import Runtime, open_runtime
from keyseal.settings import Settings
from tests.conftest import PASSPHRASE, START, make_account, make_key

TODAY = datetime.fromtimestamp(START, UTC).date()  # 2026-11-21
NOW_MS = int(START * 1000)


def _operator_view(rt: Runtime, api_key: str, days: int = 30
                   ) -> list[tuple[date, int, dict[str, int]]]:
    return [(d.day, d.ok, dict(d.refusals))
            for d in activity_service.requests_per_day(rt, OPERATOR, api_key, days)]


def _counted(*events: tuple[str, int, str]) -> RequestCounter:
    counter = RequestCounter()
    for api_key, at_ms, code in events:
        counter.count(api_key, at_ms, code)
    return counter


def test_two_flushes_add_up_and_the_series_has_every_day(rt: Runtime) -> None:
    key = make_key(rt)["apiKey"]
    first = _counted((key, NOW_MS, "0"), (key, NOW_MS, "0"), (key, NOW_MS, "50113"),
                     (key, NOW_MS - 2 * DAY_MS, "0"))
    activity_service.record_requests(rt, first.drain())
    second = _counted((key, NOW_MS, "0"), (key, NOW_MS, "50113"), (key, NOW_MS, "50110"))
    activity_service.record_requests(rt, second.drain())

    series = activity_service.requests_per_day(rt, OPERATOR, key)
    assert len(series) == 30
    assert series[-1].day == TODAY and series[0].day == TODAY - timedelta(days=29)
    assert [d.day for d in series] == sorted(d.day for d in series)  # newest last
    today = series[-1]
    assert (today.ok, dict(today.refusals), today.total) == (3, {"50110": 1, "50113": 2}, 6)
    assert (series[-3].ok, series[-3].total) == (1, 1)
    assert sum(d.total for d in series) == 7  # every other day at zero
    assert all(d.total == 0 for d in series[:-3]) and series[-2].total == 0


def test_days_outside_the_window_are_left_out(rt: Runtime) -> None:
    key = make_key(rt)["apiKey"]
    counter = _counted((key, NOW_MS - 30 * DAY_MS, "0"), (key, NOW_MS - 6 * DAY_MS, "50100"))
    activity_service.record_requests(rt, counter.drain())
    assert sum(d.total for d in activity_service.requests_per_day(
        rt, OPERATOR, key)) == 1
    week = _operator_view(rt, key, days=7)
    assert len(week) == 7 and week[0] == (TODAY - timedelta(days=6), 0, {"50100": 1})
    with pytest.raises(errors.OkxError) as refused:
        activity_service.requests_per_day(rt, OPERATOR, key, days=0)
    assert refused.value.code == "51000"


def test_processes_sharing_the_store_sum(rt: Runtime, db_url: str, tmp_path: Path) -> None:
    """Four writers (each its own runtime, as separate processes would be) flush the same
    rows at once, ten times each: nothing is lost and nothing is counted twice."""
    key = make_key(rt)["apiKey"]
    other = make_key(rt)["apiKey"]
    writers = [open_runtime(Settings(home=tmp_path / "home", db_url=db_url),
                            clock=ManualClock(START)) for _ in range(4)]
    start = threading.Barrier(len(writers))
    failures: list[BaseException] = []

    def write(writer: Runtime) -> None:
        try:
            start.wait()
            for _ in range(10):
                counter = _counted((key, NOW_MS, "0"), (key, NOW_MS, "0"),
                                   (key, NOW_MS, "50113"), (other, NOW_MS, "0"))
                activity_service.record_requests(writer, counter.drain())
        except BaseException as failure:  # reported below, in the test's thread
            failures.append(failure)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        writer.close()
    assert failures == []
    assert _operator_view(rt, key)[-1] == (TODAY, 80, {"50113": 40})
    assert _operator_view(rt, other)[-1] == (TODAY, 40, {})


def test_only_the_owner_and_its_master_see_a_keys_activity(rt: Runtime) -> None:
    master_email = make_account(rt)
    master = account_service.account_by_email(rt, master_email)
    sub = account_service.create_sub_account(rt, CreateSubAccount(master_email, "tradebot1"))
    sub_key = key_service.create_key(rt, CreateKey(
        master_email, label="subkey", passphrase=PASSPHRASE, sub="tradebot1")).key.api_key
    activity_service.record_requests(rt, _counted((sub_key, NOW_MS, "0")).drain())

    assert activity_service.requests_per_day(rt, Actor.user("m", master.id), sub_key)[-1].ok == 1
    assert activity_service.requests_per_day(rt, Actor.user("s", sub.id), sub_key)[-1].ok == 1
    stranger = account_service.account_by_email(rt, make_account(rt))
    for actor in (Actor.user("z", stranger.id),
                  Actor.api(sub_key, stranger.id, Environment.LIVE, None)):
        with pytest.raises(errors.OkxError) as refused:
            activity_service.requests_per_day(rt, actor, sub_key)
        assert refused.value.error is errors.KEY_NOT_FOUND  # as if it did not exist
    with pytest.raises(errors.OkxError) as missing:
        activity_service.requests_per_day(rt, Actor.user("m", master.id),
                                          "00000000-0000-4000-8000-000000000000")
    assert missing.value.error is errors.KEY_NOT_FOUND


def test_a_deleted_key_takes_its_rows_and_a_late_batch_breaks_nothing(rt: Runtime) -> None:
    """Chosen: the history goes with the key (ON DELETE CASCADE); the audit trail keeps the
    record that the key existed. A batch counted before the delete and written after it is
    dropped for that key and still written for the others."""
    doomed, kept = make_key(rt)["apiKey"], make_key(rt)["apiKey"]
    activity_service.record_requests(rt, _counted((doomed, NOW_MS, "0")).drain())
    key_service.delete_key(rt, DeleteKey(doomed))
    activity_service.record_requests(
        rt, _counted((doomed, NOW_MS, "0"), (kept, NOW_MS, "50105")).drain())
    assert _operator_view(rt, kept)[-1] == (TODAY, 0, {"50105": 1})
    with rt.db.read() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM key_daily_usage").scalar_one()
    assert left == 1


def test_days_no_chart_shows_are_forgotten(rt: Runtime) -> None:
    key = make_key(rt)["apiKey"]
    counter = _counted((key, NOW_MS, "0"), (key, NOW_MS - 365 * DAY_MS, "0"),
                       (key, NOW_MS - 366 * DAY_MS, "50113"), (key, NOW_MS - 900 * DAY_MS, "0"))
    activity_service.record_requests(rt, counter.drain())
    assert activity_service.forget_old_days(rt) == 2  # older than the longest chart (366 days)
    year = activity_service.requests_per_day(rt, OPERATOR, key, days=366)
    assert (year[0].ok, year[-1].ok, sum(d.total for d in year)) == (1, 1, 2)
    assert activity_service.forget_old_days(rt) == 0


def test_the_migration_builds_the_table_the_code_declares(rt: Runtime) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from keyseal.store.tables import metadata

    with rt.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in differences if "key_daily_usage" in repr(d)] == []


def test_migration_0006_goes_down_and_up_on_a_database_with_keys(rt: Runtime) -> None:
    from alembic import command
    from alembic.config import Config

    from keyseal.store.database import MIGRATIONS, SCHEMA_HEAD

    key = make_key(rt)["apiKey"]
    activity_service.record_requests(rt, _counted((key, NOW_MS, "0")).drain())
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    for step, target in ((command.downgrade, "0005"), (command.upgrade, "head")):
        with rt.db.engine.begin() as conn:
            config.attributes["connection"] = conn
            step(config, target)
    assert rt.db.schema_revision() == SCHEMA_HEAD  # 0006, and whatever came after it
    assert _operator_view(rt, key)[-1] == (TODAY, 0, {})  # the history went with 0006
    activity_service.record_requests(rt, _counted((key, NOW_MS, "0")).drain())
    assert _operator_view(rt, key)[-1] == (TODAY, 1, {})
