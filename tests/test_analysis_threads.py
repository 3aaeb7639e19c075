"""Independent analysis steps run in threads (``workbench.analysis.threads``) give what
running them one after the other gives: results in the order asked, the caller's memo
scope seen in every thread, the first error raised once every step ended; and the
demo's ranking, verdict and onset are the same whether the steps run in threads or not."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.analysis import threads
from workbench.analysis._util import memo_active, memo_scope
from workbench.gate import Gate, current_gate, gated


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads even on a one-core runner (the results must not depend on it)."""
    monkeypatch.setattr(threads, "workers", lambda tasks: max(1, min(2, tasks)))


def test_run_all_keeps_the_order_and_uses_threads(two_cores: None) -> None:
    seen: set[str] = set()

    def step(i: int) -> int:
        seen.add(threading.current_thread().name)
        time.sleep(0.05 if i == 0 else 0.0)  # the first ends last
        return i * 10

    out = threads.run_all({f"s{i}": (lambda i=i: step(i)) for i in range(4)})
    assert list(out.items()) == [("s0", 0), ("s1", 10), ("s2", 20), ("s3", 30)]
    assert threading.current_thread().name not in seen  # not in the caller's thread


def test_each_thread_sees_the_callers_memo_scope(two_cores: None) -> None:
    memo: dict[object, object] = {}
    with memo_scope(memo):
        out = threads.run_all({"a": memo_active, "b": memo_active})
        later = threads.start(memo_active)
        assert later.result() is True
    assert out == {"a": True, "b": True}
    assert threads.run_all({"a": memo_active, "b": memo_active}) == {"a": False, "b": False}


def test_the_first_error_is_raised_after_every_step_ended(two_cores: None) -> None:
    finished: list[str] = []

    def slow() -> None:
        time.sleep(0.1)
        finished.append("slow")

    def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        threads.run_all({"boom": boom, "slow": slow})
    assert finished == ["slow"]  # not left running behind the error
    with pytest.raises(ValueError, match="boom"):
        threads.start(boom).result()


def test_one_core_runs_the_steps_in_the_callers_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "workers", lambda tasks: 1)
    me = threading.current_thread().name
    assert threads.run_all({"a": lambda: threading.current_thread().name}) == {"a": me}
    assert threads.start(lambda: threading.current_thread().name).result() == me


def test_the_demo_ranks_the_same_in_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo incident's ranking, verdict, onset and findings: one thread against two."""
    from workbench import Incident, Investigation

    inc = Incident.demo()
    inc.load()

    def answers(workers: int) -> tuple[object, ...]:
        monkeypatch.setattr(threads, "workers", lambda tasks: max(1, min(workers, tasks)))
        inv = Investigation(inc)
        sus = inv.suspects.value
        v = inv.verdict.value
        return sus.table, sus.onset, v, str(inv.findings.value)

    serial, parallel = answers(1), answers(2)
    assert serial[0].equals(parallel[0])  # type: ignore[attr-defined]
    assert serial[1:] == parallel[1:]


def test_a_closed_gate_runs_one_step_at_a_time_until_opened(two_cores: None) -> None:
    """Under ``gated(gate)`` (the explorer's metrics load until its first view is drawn)
    the steps run one at a time; once the gate opens, side by side again."""
    lock = threading.Lock()
    running, most = [0], [0]

    def step(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return i

    gate = Gate()
    with gated(gate):
        assert threads.run_all({i: (lambda i=i: step(i)) for i in range(4)}) == {
            0: 0, 1: 1, 2: 2, 3: 3,
        }  # fmt: skip
        assert most[0] == 1
        # opened while steps wait: the waiting ones go on side by side
        meet = threading.Barrier(2)

        def both(i: int) -> int:
            if i == 0:
                gate.open()
            meet.wait(timeout=5)  # needs the two steps running at once
            return i

        assert threads.run_all({i: (lambda i=i: both(i)) for i in range(2)}) == {0: 0, 1: 1}
    most[0] = 0
    threads.run_all({i: (lambda i=i: step(i)) for i in range(4)})  # no gate outside
    assert most[0] == 2
    # a step's own run_all under a closed gate is not held behind that very step
    done: list[dict[int, dict[str, int]]] = []

    def nested() -> None:
        with gated(Gate()):
            inner = lambda: threads.run_all({"x": lambda: 1, "y": lambda: 2})  # noqa: E731
            done.append(threads.run_all({0: inner, 1: inner}))

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    t.join(timeout=5)
    assert done == [{0: {"x": 1, "y": 2}, 1: {"x": 1, "y": 2}}]


def test_a_gate_reaches_the_loads_of_an_incident(
    two_cores: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Incident.load`` runs each source's load in a copy of the caller's context: a
    gate set around it is the one the loads' steps see."""
    from workbench import Incident
    from workbench.errors import BadData

    seen: list[object] = []

    class Src:
        name = "s"
        capabilities = ("metrics",)

        def load(self, sig, window, services=None):  # type: ignore[no-untyped-def]
            seen.append(current_gate())
            raise BadData("no data")  # an outcome like any failed load

    inc = Incident.__new__(Incident)  # only what load() reads
    gate = Gate()
    monkeypatch.setattr(Incident, "_load_deadline", lambda self, src: None)
    inc.sources = [Src()]  # type: ignore[list-item]
    inc._frames = {}
    inc.outcomes = {}
    inc.max_workers = 2
    inc.services = None
    monkeypatch.setattr(Incident, "full_window", property(lambda self: None))
    with gated(gate):
        inc.load(["metrics"])
    assert seen == [gate]
