"""The pool of seeded kernels lent to one request at a time, on real ipykernel kernels."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from kernel_helpers import (
    KILL_SELF,
    evaluate,
    fill_queue,
    is_running,
    kernel_pid,
    run,
    running_manager,
    wait_for,
)

from kernel_gateway.errors import CellTimeout, KernelQueueFull, KernelUnavailable, StartupError
from kernel_gateway.services.kernels.execution import execute
from kernel_gateway.services.kernels.manager import MappingKernelManager
from kernel_gateway.services.kernels.pool import KernelPool


@asynccontextmanager
async def started_pool(manager: MappingKernelManager, size: int) -> AsyncIterator[KernelPool]:
    pool = KernelPool(manager, size, None)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()


async def test_sequential_borrowers_go_round_robin_over_seeded_kernels() -> None:
    async with running_manager(seed_cells=("answer = 42",)) as manager:
        async with started_pool(manager, 2) as pool:
            pids = []
            for _ in range(4):
                async with pool.borrow() as connection:
                    pids.append(await kernel_pid(connection))
                    assert await evaluate(connection, "answer") == 42
            assert len(manager.kernel_ids()) == 2
        assert manager.kernel_ids() == []  # stopping the pool shut its kernels down

        first, second = pids[:2]
        assert first != second
        assert pids == [first, second, first, second]


async def test_borrowers_wait_in_line_and_max_wait_gives_up() -> None:
    async with running_manager() as manager:
        pool = KernelPool(manager, 2, None)
        await pool.start()
        served: list[tuple[str, str]] = []
        done = {name: asyncio.Event() for name in ("w1", "w2", "w3")}

        async def waiter(name: str) -> None:
            async with pool.borrow() as connection:
                served.append((name, connection.kernel_id))
                await done[name].wait()

        async with AsyncExitStack() as first_holder, AsyncExitStack() as second_holder:
            first = await first_holder.enter_async_context(pool.borrow())
            second = await second_holder.enter_async_context(pool.borrow())

            with pytest.raises(KernelUnavailable) as info:
                async with pool.borrow(max_wait=0.3):
                    pass
            assert (str(info.value), info.value.retry_after) == (
                "No kernel became free within 0.3 seconds",
                1,
            )

            tasks = [asyncio.ensure_future(waiter(name)) for name in ("w1", "w2", "w3")]
            await wait_for(lambda: pool.queued == 3, 2, "three borrowers in line")
            assert (served, pool.size, pool.idle, pool.busy) == ([], 2, 0, 2)

            await first_holder.aclose()
            await wait_for(lambda: len(served) == 1, 2, "the first waiter served")
            await second_holder.aclose()
            await wait_for(lambda: len(served) == 2, 2, "the second waiter served")
            done["w1"].set()
            await wait_for(lambda: len(served) == 3, 2, "the third waiter served")

        assert served == [
            ("w1", first.kernel_id),
            ("w2", second.kernel_id),
            ("w3", first.kernel_id),
        ]
        done["w2"].set()
        done["w3"].set()
        await asyncio.gather(*tasks)

        async with pool.borrow() as connection, pool.borrow() as other:
            assert {connection.kernel_id, other.kernel_id} == {first.kernel_id, second.kernel_id}
            left_waiting = asyncio.ensure_future(waiter("w1"))
            await wait_for(lambda: pool.queued == 1, 2, "a borrower in line")
            stopping = asyncio.ensure_future(pool.stop())
            with pytest.raises(KernelUnavailable, match=r"^The kernel pool is stopping$"):
                await left_waiting
            assert not stopping.done()  # it waits for the borrows in flight
            assert sorted(manager.kernel_ids()) == sorted([first.kernel_id, second.kernel_id])
        await stopping
        assert manager.kernel_ids() == []  # the pool shut its own kernels down


async def test_a_kernel_that_dies_while_lent_is_replaced() -> None:
    async with running_manager(seed_cells=("answer = 42",)) as manager:
        async with started_pool(manager, 2) as pool:
            async with pool.borrow() as connection:
                survivor_id = connection.kernel_id

            lent: list[tuple[str, int]] = []

            async def kill_while_lent() -> None:
                async with pool.borrow() as connection:
                    lent.append((connection.kernel_id, await kernel_pid(connection)))
                    await execute(connection, [KILL_SELF], timeout=20)

            with pytest.raises(KernelUnavailable):
                await kill_while_lent()
            ((dead_id, dead_pid),) = lent

            await wait_for(
                lambda: len(manager.kernel_ids()) == 2 and dead_id not in manager.kernel_ids(),
                15,
                "the replacement kernel",
            )
            async with pool.borrow(max_wait=15) as one, pool.borrow(max_wait=15) as two:
                members = {one.kernel_id, two.kernel_id}
                assert await evaluate(one, "answer") == await evaluate(two, "answer") == 42

        assert dead_id != survivor_id
        assert survivor_id in members
        assert dead_id not in members
        assert not is_running(dead_pid)


async def test_a_kernel_whose_request_timed_out_is_interrupted_and_serves_again() -> None:
    async with running_manager() as manager, started_pool(manager, 1) as pool:
        async with pool.borrow() as connection:
            kernel_id = connection.kernel_id
            pid = await kernel_pid(connection)
            await run(connection, "kept = 'state survives an interrupt'")

        with pytest.raises(CellTimeout):
            async with pool.borrow() as connection:
                await execute(connection, ["import time; time.sleep(60)"], timeout=0.5)

        async with pool.borrow(max_wait=10) as connection:
            assert connection.kernel_id == kernel_id
            assert await kernel_pid(connection) == pid
            assert await evaluate(connection, "kept") == "state survives an interrupt"


async def test_a_kernel_that_stopped_reading_is_freed_and_serves_again() -> None:
    async with running_manager() as manager, started_pool(manager, 1) as pool:
        lent: list[str] = []

        async def flood_while_lent() -> None:
            async with pool.borrow() as connection:
                lent.append(connection.kernel_id)
                await fill_queue(connection)
                await execute(connection, ["print('never sent')"], timeout=5)

        with pytest.raises(KernelQueueFull):
            await flood_while_lent()

        async with pool.borrow(max_wait=30) as connection:
            assert [connection.kernel_id] == lent
            assert await evaluate(connection, "'served again'") == "served again"


async def test_a_failing_seed_cell_stops_the_pool_from_starting() -> None:
    async with running_manager(seed_cells=("1 / 0",)) as manager:
        pool = KernelPool(manager, 1, None)

        with pytest.raises(StartupError, match=r'^A seed cell failed: cell 1 "1 / 0": Zero'):
            await pool.start()

        assert manager.kernel_ids() == []
        await pool.stop()


async def test_a_kernel_killed_while_idle_in_the_pool_is_replaced() -> None:
    async with running_manager() as manager, started_pool(manager, 1) as pool:
        async with pool.borrow() as connection:
            old_id = connection.kernel_id
            old_pid = await kernel_pid(connection)

        os.kill(old_pid, signal.SIGKILL)
        await wait_for(lambda: old_id not in manager.kernel_ids(), 6, "the death notice")

        async with pool.borrow(max_wait=15) as connection:
            assert connection.kernel_id != old_id
            assert await kernel_pid(connection) != old_pid
            assert manager.kernel_ids() == [connection.kernel_id]


async def test_pools_on_one_manager_have_their_own_seeds_folder_env_and_kernels(
    tmp_path: Path,
) -> None:
    async with running_manager(seed_cells=("who = 'the manager'",)) as manager:
        mine = KernelPool(
            manager,
            1,
            None,
            seed_cells=("who = 'mine'",),
            cwd=str(tmp_path),
            env={"KERNEL_APP": "mine"},
        )
        plain = KernelPool(manager, 2, None)
        await asyncio.gather(mine.start(), plain.start())
        probe = "(who, __import__('os').getcwd(), __import__('os').environ.get('KERNEL_APP'))"
        async with mine.borrow() as connection:
            assert await evaluate(connection, probe) == ("mine", str(tmp_path), "mine")
            assert (mine.size, mine.idle, mine.busy, mine.queued) == (1, 0, 1, 0)
        async with plain.borrow() as connection:
            assert await evaluate(connection, probe) == ("the manager", os.getcwd(), None)
        assert (plain.size, plain.idle, plain.busy, plain.queued) == (2, 2, 0, 0)
        plain_ids = set(plain.kernel_ids())
        assert set(manager.kernel_ids()) == plain_ids | set(mine.kernel_ids())

        await mine.stop()

        assert set(manager.kernel_ids()) == plain_ids
        async with plain.borrow() as connection:
            assert await evaluate(connection, "who") == "the manager"
        await plain.stop()
        assert manager.kernel_ids() == []
