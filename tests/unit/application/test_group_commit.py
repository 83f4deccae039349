"""Group commit on the memory store: commands that arrive while a commit is in flight share
the next one; each is answered after the commit that holds it, with its own outcome."""

import asyncio
import threading
from typing import Any

import pytest

from adapters.memory.store import InMemoryStore
from adapters.memory.uow import InMemoryUnitOfWork
from application.errors import IdempotencyKeyReused, TransientError
from application.group_commit import GroupCommit
from application.idempotency import Request
from domain.commands import CancelOrder, PlaceOrder
from domain.errors import OrderAlreadyExists, OrderNotFound
from domain.orders import Order
from domain.values import OrderLine


class Commits:
    """Units of work on the store that record the orders of each commit, and can hold a
    commit until told to go on (a commit in flight)."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.groups: list[list[str]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.failure: Exception | None = None

    def __call__(self) -> InMemoryUnitOfWork:
        commits = self

        class Recorded(InMemoryUnitOfWork):
            async def commit(self) -> None:
                await commits.hold.wait()
                if commits.failure is not None:
                    raise commits.failure
                orders = sorted(self._work.objects["orders"])
                await super().commit()
                commits.groups.append(orders)

        return Recorded(commits.store)


def _place(order_id: str, customer: str = "c-1", quantity: int = 1) -> PlaceOrder:
    return PlaceOrder(order_id=order_id, customer_id=customer,
                      lines=(OrderLine("A", quantity),))


def _accepted(order: Order) -> tuple[int, dict[str, str], dict[str, Any]]:
    return 202, {"Location": f"/orders/{order.id}"}, {"id": order.id}


@pytest.fixture
def commits(store: InMemoryStore) -> Commits:
    return Commits(store)


async def test_a_lone_command_is_committed_at_once_alone(commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)

    order = await asyncio.wait_for(group.handle(_place("o-1")), 1.0)

    assert order.id == "o-1"
    assert commits.groups == [["o-1"]]
    assert commits.store.orders["o-1"].id == "o-1"


async def test_commands_that_arrive_during_a_commit_share_the_next_one(commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    commits.hold.clear()
    first = asyncio.create_task(group.handle(_place("o-0")))
    await asyncio.sleep(0)  # o-0's commit is in flight, held
    later = [asyncio.create_task(group.handle(_place(f"o-{n}"))) for n in range(1, 6)]
    await asyncio.sleep(0)

    assert not first.done() and not any(task.done() for task in later)
    commits.hold.set()
    await asyncio.gather(first, *later)

    assert commits.groups == [["o-0"], ["o-1", "o-2", "o-3", "o-4", "o-5"]]
    assert len(commits.store.pending("orders")) == 6


async def test_an_answer_comes_only_after_the_commit_that_holds_it(commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    commits.hold.clear()
    placing = asyncio.create_task(group.handle(_place("o-1")))
    await asyncio.sleep(0.01)

    assert not placing.done() and "o-1" not in commits.store.orders
    commits.hold.set()
    await placing
    assert "o-1" in commits.store.orders


async def test_a_command_that_breaks_a_rule_fails_alone_in_its_group(commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    commits.hold.clear()
    blocker = asyncio.create_task(group.handle(_place("o-0")))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(group.handle(command)) for command in
             (_place("o-1"), CancelOrder(order_id="nope", cancelled_by="me", reason="x"),
              _place("o-2"))]
    commits.hold.set()
    outcomes = await asyncio.gather(blocker, *tasks, return_exceptions=True)

    assert isinstance(outcomes[2], OrderNotFound)
    assert [o.id for o in (outcomes[1], outcomes[3])] == ["o-1", "o-2"]
    assert commits.groups == [["o-0"], ["o-1", "o-2"]]


async def test_a_group_the_store_refuses_is_committed_one_command_at_a_time(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    await group.handle(_place("o-1", quantity=1))
    commits.hold.clear()
    blocker = asyncio.create_task(group.handle(_place("o-0")))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(group.handle(command)) for command in
             (_place("o-2"), _place("o-1", quantity=5), _place("o-3"))]  # o-1 taken
    commits.hold.set()
    outcomes = await asyncio.gather(blocker, *tasks, return_exceptions=True)

    assert isinstance(outcomes[2], OrderAlreadyExists)
    assert outcomes[1].id == "o-2" and outcomes[3].id == "o-3"
    assert commits.groups == [["o-1"], ["o-0"], ["o-2"], ["o-3"]]
    assert commits.store.orders["o-1"].lines[0].quantity == 1


async def test_a_transient_failure_is_the_answer_of_every_command_of_the_group(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    commits.failure = TransientError("connection lost")

    outcomes = await asyncio.gather(group.handle(_place("o-1")), group.handle(_place("o-2")),
                                    return_exceptions=True)

    assert all(isinstance(outcome, TransientError) for outcome in outcomes)
    assert commits.store.orders == {}


async def test_one_key_twice_in_one_group_places_one_order(commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    commits.hold.clear()
    blocker = asyncio.create_task(group.handle(_place("o-0")))
    await asyncio.sleep(0)
    request = Request("shop", "key-1", "fingerprint-1")
    twice = [asyncio.create_task(group.handle_idempotent(_place(f"o-{n}"), request, _accepted))
             for n in (1, 2)]
    other = asyncio.create_task(group.handle_idempotent(
        _place("o-3"), Request("shop", "key-1", "fingerprint-2"), _accepted))
    commits.hold.set()
    await blocker
    (first, replayed_first), (second, replayed_second) = await asyncio.gather(*twice)

    assert (replayed_first, replayed_second) == (False, True)
    assert first == second and first.body == {"id": "o-1"}
    with pytest.raises(IdempotencyKeyReused):
        await other
    assert sorted(commits.store.orders) == ["o-0", "o-1"]
    again, replayed = await group.handle_idempotent(_place("o-4"), request, _accepted)
    assert (again, replayed) == (first, True)
    assert sorted(commits.store.orders) == ["o-0", "o-1"]


async def _in_one_group(group: GroupCommit, commits: Commits,
                        *calls: Any) -> list[Any]:
    """The outcomes of `calls` (coroutines of `group`), all sent while a commit is in
    flight, so that they share the next one."""
    commits.hold.clear()
    blocker = asyncio.create_task(group.handle(_place("o-blocker")))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(call) for call in calls]
    await asyncio.sleep(0)
    commits.hold.set()
    await blocker
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_retry_behind_a_reuse_of_its_stored_key_in_one_group_gets_the_stored_response(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    original = Request("shop", "key-1", "fingerprint-1")
    stored, _ = await group.handle_idempotent(_place("o-1"), original, _accepted)

    reused, retried = await _in_one_group(
        group, commits,
        group.handle_idempotent(_place("o-2"), Request("shop", "key-1", "fingerprint-2"),
                                _accepted),
        group.handle_idempotent(_place("o-3"), original, _accepted))

    assert isinstance(reused, IdempotencyKeyReused)
    assert retried == (stored, True)
    assert sorted(commits.store.orders) == ["o-1", "o-blocker"]


async def test_behind_a_request_that_broke_a_rule_the_same_body_gets_its_answer_another_422(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    refused = CancelOrder(order_id="nope", cancelled_by="me", reason="x")
    request = Request("shop", "key-1", "fingerprint-1")

    first, again, other = await _in_one_group(
        group, commits,
        group.handle_idempotent(refused, request, _accepted),
        group.handle_idempotent(refused, request, _accepted),
        group.handle_idempotent(_place("o-2"), Request("shop", "key-1", "fingerprint-2"),
                                _accepted))

    assert isinstance(first, OrderNotFound) and isinstance(again, OrderNotFound)
    assert isinstance(other, IdempotencyKeyReused)
    assert sorted(commits.store.orders) == ["o-blocker"]


async def test_behind_a_reuse_of_a_stored_key_another_reuse_is_422_too(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    await group.handle_idempotent(_place("o-1"), Request("shop", "key-1", "fingerprint-1"),
                                  _accepted)

    outcomes = await _in_one_group(group, commits, *(
        group.handle_idempotent(_place(f"o-{n}"), Request("shop", "key-1", f"other-{n}"),
                                _accepted) for n in (2, 3)))

    assert all(isinstance(outcome, IdempotencyKeyReused) for outcome in outcomes)
    assert sorted(commits.store.orders) == ["o-1", "o-blocker"]


async def test_a_group_takes_at_most_max_group_commands_and_the_rest_wait_for_the_next(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60, max_group=2)
    commits.hold.clear()
    blocker = asyncio.create_task(group.handle(_place("o-0")))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(group.handle(_place(f"o-{n}"))) for n in range(1, 6)]
    await asyncio.sleep(0)
    commits.hold.set()
    await asyncio.gather(blocker, *queued)

    assert commits.groups == [["o-0"], ["o-1", "o-2"], ["o-3", "o-4"], ["o-5"]]


def _drain_task() -> "asyncio.Task[Any]":
    (drain,) = [task for task in asyncio.all_tasks() if task.get_name() == "group-commit"]
    return drain


async def test_a_cancelled_drain_answers_its_group_and_the_queued_commands_are_still_committed(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    commits.hold.clear()
    in_flight = asyncio.create_task(group.handle(_place("o-0")))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(group.handle(_place(f"o-{n}"))) for n in (1, 2)]
    await asyncio.sleep(0)

    _drain_task().cancel()
    await asyncio.wait({in_flight}, timeout=2.0)
    assert in_flight.cancelled(), "the command in flight got no answer"
    closing = asyncio.create_task(group.close())
    await asyncio.sleep(0.01)
    assert not closing.done(), "close() returned with commands still queued"
    commits.hold.set()
    async with asyncio.timeout(2.0):
        await closing
        assert all(task.done() for task in queued)
        placed = await asyncio.gather(*queued)

    assert [order.id for order in placed] == ["o-1", "o-2"]
    assert commits.groups == [["o-1", "o-2"]]
    assert sorted(commits.store.orders) == ["o-1", "o-2"]


def test_at_shutdown_a_cancelled_drain_and_its_cancelled_callers_leave_nothing_pending() -> None:
    """As `asyncio.run` ends: every task is cancelled at once, the drain and the callers
    queued behind it; the loop closes with no task left pending and nothing applied."""
    store = InMemoryStore()
    commits = Commits(store)
    tasks: list[asyncio.Task[Any]] = []

    def noting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        tasks.append(task)
        return task

    async def main() -> None:
        asyncio.get_running_loop().set_task_factory(noting)
        group = GroupCommit(commits, retention_s=60)
        commits.hold.clear()
        callers = [asyncio.create_task(group.handle(_place("o-0")))]
        await asyncio.sleep(0)  # its commit is in flight, held
        callers += [asyncio.create_task(group.handle(_place(f"o-{n}"))) for n in (1, 2)]
        await asyncio.sleep(0.01)
        assert not any(caller.done() for caller in callers)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    thread.join(5.0)

    assert not thread.is_alive(), "the loop did not close"
    assert [task.get_name() for task in tasks if not task.done()] == []
    assert store.orders == {}


async def test_a_command_whose_caller_went_away_before_its_group_began_is_not_run(
        commits: Commits) -> None:
    group = GroupCommit(commits, retention_s=60)
    commits.hold.clear()
    blocker = asyncio.create_task(group.handle(_place("o-0")))
    await asyncio.sleep(0)
    gone, waiting = (asyncio.create_task(group.handle(_place(f"o-{n}"))) for n in (1, 2))
    await asyncio.sleep(0)
    gone.cancel()
    commits.hold.set()
    await asyncio.gather(blocker, waiting)
    await group.close()

    assert gone.cancelled()
    assert commits.groups == [["o-0"], ["o-2"]]
