"""The login throttle under attack (issue 11, part 4): a concurrent race, several processes, restarts, floods.

The race is run against the real app under a real uvicorn (tests/test_web.py's server and site), on SQLite
and on PostgreSQL; the rest drives `LoginThrottle` directly on the same two databases, with its `clock`
moved by hand instead of sleeping. Each outcome is read back from what the server answered or from the
`login_throttle` table, never from the throttle's own idea of itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

import tests.test_web as web_tests
from audit.db import alembic_config, make_engine, open_database
from audit.web.throttle import CLIENT_LIMIT, GLOBAL_KEY, WINDOW_S, LoginThrottle, client_key
from tests.test_web import PASSWORD, Site, csrf_of

# The fixtures of tests/test_web.py (one uvicorn for the module, a fresh app and database per test).
server = web_tests.server
site = web_tests.site
imap_listener = web_tests.imap_listener

START = 1_800_000_000.0  # a fixed moment for the hand-moved clock


class Clock:
    """The throttle's `clock`: seconds since the epoch, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engines(database_url: str) -> Iterator[Callable[[], Engine]]:
    """Engines on one migrated database, each with its own pool, as separate server processes have."""
    made: list[Engine] = []

    def new() -> Engine:
        engine = open_database(database_url)
        made.append(engine)
        return engine

    yield new
    for engine in made:
        engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT key, attempts FROM login_throttle")).all()
    return {key: attempts for key, attempts in rows}


# --- the race, over HTTP ----------------------------------------------------------------------------------


def test_forty_concurrent_wrong_passwords_from_one_address_get_five_checks(site: Site) -> None:
    first = site.client()
    token = csrf_of(first.get("/login"))
    cookies = dict(first.cookies)

    async def race() -> list[httpx.Response]:
        # A connection per request, all released at once, so the 40 posts reach the server's thread pool
        # together (the check-then-count throttle this replaces let all 40 through to the password check).
        limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)
        async with httpx.AsyncClient(
            base_url=site.base_url, cookies=cookies, limits=limits, timeout=60
        ) as client:
            start = asyncio.Event()

            async def guess(number: int) -> httpx.Response:
                await start.wait()
                return await client.post("/login", data={"password": f"guess {number}", "csrf_token": token})

            tasks = [asyncio.create_task(guess(number)) for number in range(40)]
            await asyncio.sleep(0)
            start.set()
            return await asyncio.gather(*tasks)

    answers = asyncio.run(race())
    # An atomic count lets exactly the first five through to the password check; a 401 is a check.
    assert Counter(answer.status_code for answer in answers) == {401: CLIENT_LIMIT, 429: 40 - CLIENT_LIMIT}
    for answer in answers:
        if answer.status_code == 429:
            assert "Too many wrong passwords" in answer.text
            assert 1 <= int(answer.headers["retry-after"]) <= WINDOW_S + 1
    # Refused attempts were rolled back: the counts are the five checks, for the client and in all.
    assert counts(site.engine) == {"addr:127.0.0.1": CLIENT_LIMIT, GLOBAL_KEY: CLIENT_LIMIT}
    # The right password is refused as well now: the address is shut out until its window ends.
    right = first.post("/login", data={"password": PASSWORD, "csrf_token": token})
    assert right.status_code == 429


def test_ipv6_clients_behind_the_proxy_count_by_their_64(site: Site) -> None:
    """X-Forwarded-For from the trusted proxy (127.0.0.1 by default) names the client, as in production."""
    client = site.client()
    token = csrf_of(client.get("/login"))

    def post(address: str, password: str = "nope", csrf: str = token, by: httpx.Client = client) -> int:
        answer = by.post(
            "/login", data={"password": password, "csrf_token": csrf}, headers={"X-Forwarded-For": address}
        )
        return answer.status_code

    # Five addresses of one /64 (one host usually has all of it) share a count; a sixth is refused.
    assert [post(f"2001:db8:7:1::{n:x}") for n in range(1, 6)] == [401] * 5
    assert post("2001:db8:7:1:ffff:ffff:ffff:ffff") == 429
    assert post("2001:db8:7:2::1") == 401  # the next /64 is someone else
    # An IPv4-mapped IPv6 address is its IPv4 address: one count, whichever way it is written.
    mapped = ["::ffff:192.0.2.44", "192.0.2.44", "::ffff:192.0.2.44", "192.0.2.44", "::ffff:c000:22c"]
    assert [post(address) for address in mapped] == [401] * 5
    assert post("192.0.2.44") == 429
    # A right password clears its client's count, and only that client's.
    assert post("2001:db8:7:3::1") == 401
    assert "addr:2001:db8:7:3::/64" in counts(site.engine)
    signing_in = site.client()
    assert post("2001:db8:7:3::2", PASSWORD, csrf_of(signing_in.get("/login")), signing_in) == 303
    assert "addr:2001:db8:7:3::/64" not in counts(site.engine)
    assert post("2001:db8:7:1::9") == 429


def test_a_database_that_fails_refuses_logins_instead_of_checking_them(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/login"))
    with site.engine.begin() as connection:
        connection.execute(text("DROP TABLE login_throttle"))  # the count cannot be kept: fail closed
    refused = client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/inbox"})
    assert refused.status_code == 503 and "cannot check passwords" in refused.text
    assert client.get("/inbox").status_code == 303  # not signed in, although the password was right


# --- the throttle itself, on the database ---------------------------------------------------------------


def test_two_server_processes_share_one_count_and_a_restart_keeps_it(
    engines: Callable[[], Engine],
) -> None:
    clock = Clock()
    first, second = LoginThrottle(engines(), clock=clock), LoginThrottle(engines(), clock=clock)
    gate = threading.Barrier(20)

    def guess(throttle: LoginThrottle) -> bool:
        gate.wait(timeout=30)  # ten threads a process, released together
        return throttle.attempt("198.51.100.7").allowed

    with ThreadPoolExecutor(20) as pool:
        allowed = list(pool.map(guess, [first, second] * 10))
    assert allowed.count(True) == CLIENT_LIMIT
    assert not first.attempt("198.51.100.7").allowed and not second.attempt("198.51.100.7").allowed
    # A restart: a new engine and throttle, nothing in memory. The count is the table's, so still refused.
    clock.now += 60
    restarted = LoginThrottle(engines(), clock=clock)
    verdict = restarted.attempt("198.51.100.7")
    assert not verdict.allowed and verdict.full == "client"
    assert verdict.retry_after_s == pytest.approx(WINDOW_S - 60)
    assert restarted.attempt("198.51.100.8").allowed  # its neighbour was never refused


def test_ten_thousand_and_one_addresses_do_not_clear_anyones_count(engines: Callable[[], Engine]) -> None:
    engine = engines()
    throttle = LoginThrottle(engine, global_limit=20_000, clock=Clock())
    victim, early = "203.0.113.9", "10.0.0.0"
    for _ in range(CLIENT_LIMIT):
        assert throttle.attempt(victim).allowed
    assert not throttle.attempt(victim).allowed
    # The old in-memory throttle forgot everyone when its 10,001st address arrived.
    flood = [str(ipaddress.IPv4Address("10.0.0.0") + number) for number in range(10_001)]
    with ThreadPoolExecutor(4) as pool:  # four at a time: the flood takes half as long on PostgreSQL
        assert all(verdict.allowed for verdict in pool.map(throttle.attempt, flood))
    assert not throttle.attempt(victim).allowed
    # The first of the flood is still remembered too: four more, not five, before it is refused.
    assert [throttle.attempt(early).allowed for _ in range(CLIENT_LIMIT)] == [True] * 4 + [False]
    kept = counts(engine)
    assert len(kept) == 10_001 + 2 and kept[client_key(victim)] == CLIENT_LIMIT


def test_a_right_password_clears_the_clients_count_and_gives_back_its_global_attempt(
    engines: Callable[[], Engine],
) -> None:
    engine = engines()
    throttle = LoginThrottle(engine, clock=Clock())
    for _ in range(CLIENT_LIMIT - 1):
        assert throttle.attempt("192.0.2.10").allowed
    assert throttle.attempt("192.0.2.10").allowed  # the fifth, with the right password this time
    throttle.succeeded("192.0.2.10")
    assert counts(engine) == {GLOBAL_KEY: CLIENT_LIMIT - 1}
    assert [throttle.attempt("192.0.2.10").allowed for _ in range(CLIENT_LIMIT + 1)] == [True] * 5 + [False]


def test_the_global_count_stops_a_guesser_who_spreads_over_many_addresses(
    engines: Callable[[], Engine],
) -> None:
    throttle = LoginThrottle(engines(), global_limit=3, clock=Clock())
    assert all(throttle.attempt(f"192.0.2.{n}").allowed for n in range(1, 4))
    refused = throttle.attempt("192.0.2.4")
    assert not refused.allowed and refused.full == "global"
    throttle.succeeded("192.0.2.1")  # someone who knew the password gives their attempt back
    assert throttle.attempt("192.0.2.5").allowed
    assert not throttle.attempt("192.0.2.6").allowed


def test_the_window_ends_and_ended_rows_are_deleted_by_time(engines: Callable[[], Engine]) -> None:
    engine = engines()
    clock = Clock()
    throttle = LoginThrottle(engine, clock=clock)
    for _ in range(CLIENT_LIMIT):
        assert throttle.attempt("192.0.2.20").allowed
    clock.now += 10
    assert throttle.attempt("192.0.2.21").allowed
    refused = throttle.attempt("192.0.2.20")
    assert not refused.allowed and refused.retry_after_s == pytest.approx(WINDOW_S - 10)
    clock.now = START + WINDOW_S - 1
    assert not throttle.attempt("192.0.2.20").allowed  # refusals did not push the window out
    clock.now = START + WINDOW_S
    assert throttle.attempt("192.0.2.20").allowed  # a new window, counting from one
    assert counts(engine)["addr:192.0.2.20"] == 1
    # 192.0.2.21's window (begun 10 s later) has not ended: pruning deletes only ended windows' rows.
    clock.now = START + WINDOW_S + 5
    assert throttle.prune(force=True) == 0
    clock.now = START + 2 * WINDOW_S
    assert throttle.prune(force=True) == 2  # both clients; the global row starts over by itself
    assert set(counts(engine)) == {GLOBAL_KEY}
    assert throttle.attempt("192.0.2.20").allowed
    assert counts(engine) == {"addr:192.0.2.20": 1, GLOBAL_KEY: 1}


def test_client_keys_are_an_ipv4_address_or_an_ipv6_64_and_bounded() -> None:
    assert client_key("192.0.2.1") == client_key("::ffff:192.0.2.1") == "addr:192.0.2.1"
    assert client_key("2001:db8:a:b:1:2:3:4") == client_key("2001:db8:a:b::") == "addr:2001:db8:a:b::/64"
    assert client_key("2001:db8:a:c::1") != client_key("2001:db8:a:b::1")
    odd = client_key("x" * 10_000)  # not an address (a proxy's odd header): hashed, fits the 64-char key
    assert odd.startswith("addr?") and len(odd) <= 64 and odd != client_key("y" * 10_000)


def test_a_database_failure_raises_and_never_allows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")  # no login_throttle table
    try:
        with pytest.raises(SQLAlchemyError):
            LoginThrottle(engine).attempt("192.0.2.30")
    finally:
        engine.dispose()


# --- the migration ----------------------------------------------------------------------------------------


def test_alembic_upgrade_head_creates_login_throttle_and_downgrade_removes_it(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0006_message_identity")
        assert "login_throttle" not in inspect(engine).get_table_names()
        command.upgrade(config, "head")
        found = inspect(engine)
        columns = {column["name"]: column for column in found.get_columns("login_throttle")}
        assert set(columns) == {"key", "window_start", "attempts"}
        assert not any(column["nullable"] for column in columns.values())
        assert found.get_pk_constraint("login_throttle")["constrained_columns"] == ["key"]
        throttle = LoginThrottle(engine, clock=Clock())
        assert throttle.attempt("192.0.2.40").allowed  # the upsert's ON CONFLICT needs that primary key
        command.downgrade(config, "0006_message_identity")
        assert "login_throttle" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
