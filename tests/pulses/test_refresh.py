"""The refresher: per message one update at a time, the latest asked for last, off the caller."""

from __future__ import annotations

import threading
import time

from pulses.refresh import Refresher


def test_a_burst_for_one_key_runs_the_first_and_then_only_the_latest() -> None:
    refresher = Refresher(workers=2)
    release = threading.Event()
    started = threading.Event()
    ran: list[int] = []

    def job(n: int) -> None:
        started.set()
        release.wait(5)
        ran.append(n)

    refresher.submit("message", lambda: job(1))
    assert started.wait(5)
    # While the first update is in flight, nine more are asked for: one more runs, the last.
    for n in range(2, 11):
        refresher.submit("message", lambda n=n: job(n))  # type: ignore[misc]
    release.set()
    assert refresher.wait_idle(5)
    assert ran == [1, 10]
    refresher.close()


def test_one_key_never_runs_twice_at_once_while_other_keys_go_ahead() -> None:
    refresher = Refresher(workers=2)
    in_flight: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    lock = threading.Lock()
    b_done = threading.Event()
    a_release = threading.Event()

    def job(key: str) -> None:
        with lock:
            in_flight[key] += 1
            most[key] = max(most[key], in_flight[key])
        if key == "a":
            a_release.wait(5)
        else:
            b_done.set()
        with lock:
            in_flight[key] -= 1

    refresher.submit("a", lambda: job("a"))
    refresher.submit("a", lambda: job("a"))
    refresher.submit("b", lambda: job("b"))
    # "b" is updated while "a" is still waiting (on Slack, say).
    assert b_done.wait(5)
    a_release.set()
    assert refresher.wait_idle(5)
    assert most == {"a": 1, "b": 1}
    refresher.close()


def test_a_failing_job_is_logged_and_the_next_one_still_runs() -> None:
    refresher = Refresher(workers=1)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("Slack said no")

    refresher.submit("a", fail)
    assert refresher.wait_idle(5)
    refresher.submit("a", lambda: ran.append("again"))
    assert refresher.wait_idle(5)
    assert ran == ["again"]
    refresher.close()


def test_a_key_runs_again_no_sooner_than_its_spacing_while_other_keys_go_ahead() -> None:
    refresher = Refresher(workers=2, spacing=0.5)
    started: dict[str, list[float]] = {"a": [], "b": []}

    refresher.submit("a", lambda: started["a"].append(time.monotonic()))
    assert refresher.wait_idle(5)
    refresher.submit("a", lambda: started["a"].append(time.monotonic()))
    refresher.submit("b", lambda: started["b"].append(time.monotonic()))
    assert refresher.wait_idle(5)
    first, second = started["a"]
    assert second - first >= 0.5
    # "b" had no update within the spacing: it went ahead without waiting for "a".
    assert started["b"][0] < second
    refresher.close()
