"""Warm kernels: the env code they are given, the pool's counts, and hand-out on real kernels."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from kernel_helpers import (
    IPYKERNEL_ARGV,
    evaluate,
    kernel_children,
    moves,
    provisioner_pid,
    record_events,
    release,
    running_manager,
    spec_manager_with,
    states,
    wait_for,
)

from kernel_gateway.errors import UnknownKernel
from kernel_gateway.services.kernels.events import KernelState
from kernel_gateway.services.kernels.kernel import ManagedKernel
from kernel_gateway.services.kernels.manager import MappingKernelManager
from kernel_gateway.services.kernels.pooling import missing
from kernel_gateway.services.kernels.warm_pool import can_stand_in, environment_code

# -- environment_code ------------------------------------------------------------------------


@pytest.fixture
def restored_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put os.environ and the working directory back after the test changes them."""
    for name in ("KERNEL_FOO", "KERNEL_QUOTED", "KERNEL_WORKING_DIR"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    monkeypatch.chdir(os.getcwd())


@pytest.mark.usefixtures("restored_process")
def test_environment_code_sets_variables_and_enters_the_working_dir(tmp_path: Path) -> None:
    env = {
        "KERNEL_FOO": "x",
        "KERNEL_QUOTED": 'it\'s "quoted"\n\\ é',
        "KERNEL_WORKING_DIR": str(tmp_path),
    }
    namespace: dict[str, object] = {}

    exec(environment_code(env), namespace)

    assert {name: os.environ.get(name) for name in env} == env
    assert os.getcwd() == str(tmp_path)
    assert [name for name in namespace if name != "__builtins__"] == []


@pytest.mark.usefixtures("restored_process")
def test_environment_code_stays_put_without_an_existing_working_dir(tmp_path: Path) -> None:
    before = os.getcwd()
    missing = str(tmp_path / "missing")

    exec(environment_code({"KERNEL_FOO": "y"}), {})
    assert (os.environ.get("KERNEL_FOO"), os.getcwd()) == ("y", before)

    exec(environment_code({"KERNEL_WORKING_DIR": missing}), {})
    assert (os.environ.get("KERNEL_WORKING_DIR"), os.getcwd()) == (missing, before)


@pytest.mark.usefixtures("restored_process")
def test_environment_code_of_nothing_changes_nothing() -> None:
    before = (dict(os.environ), os.getcwd())

    exec(environment_code({}), {})

    assert (dict(os.environ), os.getcwd()) == before


# -- WarmPool rules -------------------------------------------------------------------------


def test_a_pool_starts_what_it_misses_counting_kernels_starting() -> None:
    assert [
        missing(3, members, starting) for members, starting in [(0, 0), (2, 0), (2, 1), (0, 5)]
    ] == [
        3,
        1,
        0,
        0,
    ]


@pytest.mark.parametrize(
    ("name", "language", "env", "expected"),
    [
        ("python3", "python", {}, True),
        ("python3", "python", {"KERNEL_FOO": "x"}, True),
        ("other", "python", {}, False),
        ("python3", "R", {}, True),
        ("python3", "R", {"KERNEL_FOO": "x"}, False),
    ],
)
def test_a_warm_kernel_serves_only_its_own_kind_and_env_it_can_apply(
    name: str, language: str, env: dict[str, str], expected: bool
) -> None:
    assert can_stand_in("python3", name, language, env) is expected


# -- real kernels ----------------------------------------------------------------------------


def spec_manager_with_another_python(root: Path) -> KernelSpecManager:
    """The usual kernel specs plus `other_python`, another name for an ipykernel kernel."""
    return spec_manager_with(root, "other_python", IPYKERNEL_ARGV)


async def test_warm_kernels_are_hidden_then_handed_out_with_the_requested_env(
    tmp_path: Path,
) -> None:
    specs = spec_manager_with_another_python(tmp_path / "specs")
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with running_manager(specs, seed_cells=("seeded = True",)) as manager:
        await manager.start_warm_pool(2)
        assert manager.warm_pool is not None
        warm_ids = manager.warm_pool.kernel_ids()
        warm_pids = {provisioner_pid(manager, kernel_id) for kernel_id in warm_ids}
        assert len(warm_pids) == 2
        assert (manager.kernel_ids(), manager.kernel_models()) == ([], [])
        with pytest.raises(UnknownKernel):
            manager.connection(warm_ids[0])

        env = {"KERNEL_FOO": "x", "KERNEL_WORKING_DIR": str(workdir)}
        kernel_id = await manager.start_kernel(env=env)

        assert kernel_id == warm_ids[0]
        assert provisioner_pid(manager, kernel_id) in warm_pids
        assert manager.kernel_ids() == [kernel_id]
        connection = manager.connection(kernel_id)
        assert await evaluate(
            connection,
            "(seeded, {k: v for k, v in __import__('os').environ.items() "
            "if k.startswith('KERNEL_')}, __import__('os').getcwd())",
        ) == (True, {**env, "KERNEL_GATEWAY": "1"}, str(workdir))

        pool = manager.warm_pool
        await wait_for(lambda: len(pool.kernel_ids()) == 2, 15, "the warm pool's refill")
        assert pool.kernel_ids()[0] == warm_ids[1]
        refilled = pool.kernel_ids()[1]
        assert refilled not in warm_ids
        assert manager.kernel_ids() == [kernel_id]

        other_id = await manager.start_kernel("other_python", env={"KERNEL_FOO": "y"})
        assert manager.kernel_model(other_id)["name"] == "other_python"
        assert provisioner_pid(manager, other_id) not in warm_pids
        assert pool.kernel_ids() == [warm_ids[1], refilled]
        assert sorted(manager.kernel_ids()) == sorted([kernel_id, other_id])
        assert len(kernel_children()) == 4


async def test_a_refilling_warm_kernel_stays_hidden() -> None:
    async with running_manager() as manager:
        await manager.start_warm_pool(1)
        kernel_id = await manager.start_kernel()
        pool = manager.warm_pool
        assert pool is not None

        seen: list[list[str]] = []
        deadline = time.monotonic() + 15
        while not pool.kernel_ids() and time.monotonic() < deadline:
            seen.append(manager.kernel_ids())
            await asyncio.sleep(0.01)

        assert len(pool.kernel_ids()) == 1
        assert [ids for ids in seen if ids != [kernel_id]] == []


async def test_shutdown_all_while_a_refill_waits_for_its_kernel_leaves_no_process() -> None:
    async with running_manager() as manager:
        await manager.start_warm_pool(1)
        await manager.start_kernel()
        pool = manager.warm_pool
        assert pool is not None
        await wait_for(lambda: pool.starting == 1, 5, "the refill's launch", interval=0)

        await manager.shutdown_all()

        await wait_for(lambda: kernel_children() == [], 5, "every kernel's exit")
        assert (manager.kernel_ids(), manager.list_kernel_ids()) == ([], [])


# the cancelled start leaves jupyter_client's start coroutines never awaited (the same bug)
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
async def test_shutdown_all_while_a_refill_is_launching_its_kernel() -> None:
    manager = MappingKernelManager(kernel_spec_manager=KernelSpecManager())
    await manager.start_warm_pool(1)
    await manager.start_kernel()
    # jupyter_client lists a kernel whose start is under way in _pending_kernels
    await wait_for(lambda: bool(manager._pending_kernels), 5, "the refill's start", interval=0)

    failure = None
    try:
        await manager.shutdown_all()
    except KeyError as err:
        failure = f"shutdown_all raised {err!r}"
    finally:
        try:
            await wait_for(lambda: kernel_children() == [], 5, "every kernel's exit")
        finally:
            left = kernel_children()
            await release(manager)

    assert (failure, left) == (None, [])


async def test_warm_kernels_are_unknown_to_every_operation_by_id() -> None:
    async with running_manager() as manager:
        await manager.start_warm_pool(1)
        assert manager.warm_pool is not None
        (warm_id,) = manager.warm_pool.kernel_ids()

        for action in (manager.restart_kernel, manager.interrupt_kernel):
            with pytest.raises(UnknownKernel):
                await action(warm_id)
        with pytest.raises(UnknownKernel):
            manager.kernel_model(warm_id)
        with pytest.raises(UnknownKernel):
            await manager.shutdown_kernel(warm_id)

        assert manager.warm_pool.kernel_ids() == [warm_id]
        assert warm_id in manager.registry


async def test_a_warm_kernel_that_died_is_not_handed_out() -> None:
    async with running_manager() as manager:
        await manager.start_warm_pool(1)
        assert manager.warm_pool is not None
        (warm_id,) = manager.warm_pool.kernel_ids()
        os.kill(provisioner_pid(manager, warm_id), signal.SIGKILL)

        kernel_id = await manager.start_kernel(env={"KERNEL_FOO": "x"})

        assert kernel_id != warm_id
        assert warm_id not in manager.registry
        connection = manager.connection(kernel_id)
        assert await evaluate(connection, "__import__('os').environ['KERNEL_FOO']") == "x"


async def died(kernel: ManagedKernel | None, timeout: float = 5) -> None:
    """Wait until jupyter_client sees the kernel's process gone (a killed process's threads
    take a moment to exit: till then it is not reaped, and still counts as alive)."""
    assert kernel is not None
    deadline = time.monotonic() + timeout
    while await kernel.km.is_alive():
        assert time.monotonic() < deadline, "the kernel did not die"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("restarted", [False, True], ids=["just-died", "restarting"])
async def test_a_warm_kernel_that_died_while_idle_falls_back_to_a_fresh_kernel(
    restarted: bool,
) -> None:
    async with running_manager(seed_cells=("seeded = True",)) as manager:
        await manager.start_warm_pool(1)
        assert manager.warm_pool is not None
        (warm_id,) = manager.warm_pool.kernel_ids()
        events = record_events(manager)
        pid = provisioner_pid(manager, warm_id)
        os.kill(pid, signal.SIGKILL)
        await died(manager.registry.find(warm_id))
        if restarted:  # the restarter noticed: a new process is being seeded
            await wait_for(lambda: states(events, KernelState.RESTARTING) != [], 6, "restart")

        kernel_id = await manager.start_kernel()  # no env: nothing runs on it before

        assert kernel_id != warm_id
        assert warm_id not in manager.registry
        assert manager.kernel_ids() == [kernel_id]
        assert await evaluate(manager.connection(kernel_id), "seeded") is True
        assert ("", "gone", "shutdown") not in moves(events, kernel_id)
