"""Group commit: concurrent webhook requests share one transaction; each learns how its own batch went."""

from __future__ import annotations

import threading
import time

import pytest

from bot.store.group_commit import GroupCommit, GroupCommitTimeout


class SlowStore:
    """A write that takes a while (as a commit does), remembering every batch it was given."""

    def __init__(self, seconds: float = 0.02, fail_when: str | None = None) -> None:
        self.seconds = seconds
        self.fail_when = fail_when
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def write(self, items: list[str]) -> None:
        time.sleep(self.seconds)
        if self.fail_when is not None and self.fail_when in items:
            raise OSError("disk on fire")
        with self.lock:
            self.batches.append(list(items))

    @property
    def written(self) -> list[str]:
        return [item for batch in self.batches for item in batch]


def submit_all(commits: GroupCommit[str], names: list[str]) -> dict[str, BaseException | None]:
    outcome: dict[str, BaseException | None] = {}
    start = threading.Barrier(len(names))

    def one(name: str) -> None:
        start.wait()
        try:
            commits.submit([name])
            outcome[name] = None
        except BaseException as exc:  # noqa: BLE001 (the test looks at it)
            outcome[name] = exc

    threads = [threading.Thread(target=one, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a submitter never returned"
    return outcome


def test_one_thread_alone_writes_its_own_batch():
    store = SlowStore(0)
    commits = GroupCommit(store.write)
    commits.submit(["a", "b"])
    commits.submit(["c"])
    assert store.batches == [["a", "b"], ["c"]]


def test_concurrent_submits_are_all_written_once_in_fewer_transactions():
    store = SlowStore(0.02)
    names = [f"event-{i}" for i in range(40)]
    outcome = submit_all(GroupCommit(store.write), names)
    assert outcome == dict.fromkeys(names)
    assert sorted(store.written) == sorted(names)
    assert len(store.batches) < len(names)  # while one commit runs, the others queue for the next


def test_a_failed_write_fails_exactly_the_submitters_in_that_batch():
    store = SlowStore(0.01, fail_when="poison")
    commits = GroupCommit(store.write)
    outcome = submit_all(commits, ["poison", *[f"e{i}" for i in range(15)]])
    failed = {name for name, exc in outcome.items() if exc is not None}
    assert "poison" in failed
    assert all(isinstance(outcome[name], OSError) for name in failed)
    assert set(store.written) == set(outcome) - failed  # the others were written, none twice
    commits.submit(["after"])  # and the next batch works
    assert store.written[-1] == "after"


def test_batches_stay_within_the_item_limit():
    store = SlowStore(0.01)
    submit_all(GroupCommit(store.write, max_items=4), [f"e{i}" for i in range(30)])
    assert max(len(batch) for batch in store.batches) <= 4


def test_a_submitter_that_times_out_is_told_so_and_its_items_are_written_by_the_next_leader():
    stuck, release = threading.Event(), threading.Event()
    written: list[str] = []

    def stuck_then_fine(items: list[str]) -> None:
        if "first" in items:
            stuck.set()
            release.wait(10)  # the database hangs on this commit
        written.extend(items)

    commits = GroupCommit(stuck_then_fine, timeout=0.2)
    leader = threading.Thread(target=commits.submit, args=(["first"],))
    leader.start()
    assert stuck.wait(10), "the leader never started its commit"
    with pytest.raises(GroupCommitTimeout):
        commits.submit(["gave-up"])  # queued behind the stuck commit
    release.set()
    leader.join(timeout=10)
    commits.submit(["later"])
    assert written == ["first", "gave-up", "later"]
