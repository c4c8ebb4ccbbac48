"""Failed logins: limits per user name and per address, growing lockouts, and guesses that do not stall other users."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from reporter.web.throttle import Limit, LoginThrottle
from tests.web.conftest import PASSWORDS, make_client, serving

USER = Limit(failures=5, window_s=900, lockout_max_s=86400)
ADDRESS = Limit(failures=20, window_s=900, lockout_max_s=86400)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, name: str, address: str = "10.0.0.1") -> float | None:
    wait = throttle.acquire(name, address)
    if wait is None:
        throttle.release(name, address, ok=False)
    return wait


def test_throttle_locks_a_name_after_its_failures_and_doubles_each_lockout() -> None:
    clock = Clock()
    throttle = LoginThrottle(USER, ADDRESS, clock)
    assert [fail(throttle, "vera") for _ in range(5)] == [None] * 5
    assert fail(throttle, "vera") == 900
    assert fail(throttle, "Vera ", "10.9.9.9") == 900  # the same name, from anywhere
    assert throttle.acquire("otto", "10.0.0.1") is None  # the address has 5 of its 20
    throttle.release("otto", "10.0.0.1", ok=True)
    clock.now += 900
    assert [fail(throttle, "vera") for _ in range(5)] == [None] * 5
    assert fail(throttle, "vera") == 1800
    clock.now += 1800
    assert [fail(throttle, "vera") for _ in range(5)] == [None] * 5
    assert fail(throttle, "vera") == 3600


def test_throttle_forgets_old_failures_and_strikes() -> None:
    clock = Clock()
    throttle = LoginThrottle(USER, ADDRESS, clock)
    for _ in range(4):
        fail(throttle, "vera")
    clock.now += 901  # out of the window
    assert [fail(throttle, "vera") for _ in range(4)] == [None] * 4
    fail(throttle, "vera")
    assert fail(throttle, "vera") == 900
    clock.now += 86400  # quiet for lockout_max_s: the next lockout is a first one again
    for _ in range(5):
        fail(throttle, "vera")
    assert fail(throttle, "vera") == 900


def test_throttle_success_clears_the_name_not_the_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(USER, Limit(6, 900, 86400), clock)
    for _ in range(4):
        fail(throttle, "vera")
    assert throttle.acquire("vera", "10.0.0.1") is None
    throttle.release("vera", "10.0.0.1", ok=True)
    assert fail(throttle, "vera") is None  # the name starts again from zero
    assert fail(throttle, "vera") is None  # the address's sixth failure: locked
    assert fail(throttle, "someone-else") == 900


def test_throttle_counts_attempts_in_progress() -> None:
    throttle = LoginThrottle(USER, ADDRESS, Clock())
    assert [throttle.acquire("vera", f"10.0.0.{i}") for i in range(5)] == [None] * 5
    assert throttle.acquire("vera", "10.0.0.9") is not None  # five guesses still being verified
    throttle.release("vera", "10.0.0.0", ok=True)
    assert throttle.acquire("vera", "10.0.0.9") is None


def test_throttle_memory_is_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(USER, ADDRESS, clock, max_keys=100)
    fail(throttle, "vera", "10.0.0.1")
    clock.now += 86400
    for i in range(1000):
        fail(throttle, f"guess-{i}", f"10.1.{i // 250}.{i % 250}")
    assert len(throttle._keys) <= 100


def test_login_answers_429_with_retry_after_per_user_and_per_address(client: TestClient) -> None:
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]

    def attempt(name: str, password: str) -> httpx.Response:
        return client.post("/login", data={"csrf": csrf, "name": name, "password": password, "next": "/"})

    assert [attempt("vera", f"guess-{i}").status_code for i in range(5)] == [401] * 5
    locked = attempt("vera", PASSWORDS["vera"])  # even the right password, while locked
    assert locked.status_code == 429 and "Too many failed logins" in locked.text
    assert 890 <= int(locked.headers["retry-after"]) <= 900
    assert attempt("otto", PASSWORDS["otto"]).status_code == 303  # the address is not locked yet
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]  # a login starts a new session
    assert [attempt(f"nobody-{i}", "guess").status_code for i in range(15)] == [401] * 15
    refused = attempt("nobody-else", "guess")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_wrong_password_floods_leave_other_users_fast(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six clients guessing from ever new addresses (a distributed attack, under every limit) stall nobody."""
    app = make_client(tmp_path, demo_url, hashes, monkeypatch).app
    stop = threading.Event()
    verified = [0] * 6

    def attacker(i: int) -> None:
        for host in range(1, 255):
            local = f"127.0.{i + 1}.{host}"
            with httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=local), timeout=30) as c:
                csrf = c.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
                for n in range(25):
                    if stop.is_set():
                        return
                    status = c.post(
                        "/login", data={"csrf": csrf, "name": f"guess-{i}-{host}-{n}", "password": "wrong"}
                    ).status_code
                    if status == 429:
                        break
                    verified[i] += status == 401

    with serving(app) as base, httpx.Client(base_url=base, timeout=30) as user:
        csrf = user.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        assert (
            user.post("/login", data={"csrf": csrf, "name": "vera", "password": PASSWORDS["vera"]}).status_code == 303
        )
        threads = [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        latencies = []
        for _ in range(30):
            t0 = time.perf_counter()
            assert user.get("/api/runs").status_code == 200
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(30)
    assert sum(verified) >= 12, verified  # the guesses were being verified all along
    assert statistics.median(latencies) < 0.1, sorted(latencies)
