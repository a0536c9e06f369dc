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
    provisioner_pid,
    release,
    running_manager,
    spec_manager_with,
    wait_for,
)

from kernel_gateway.errors import UnknownKernel
from kernel_gateway.services.kernels.manager import MappingKernelManager
from kernel_gateway.services.kernels.warm_pool import WarmPool, environment_code

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


# -- WarmPool counts -------------------------------------------------------------------------


@pytest.fixture
def idle_manager() -> MappingKernelManager:
    """A manager that starts nothing: the pool's counting rules need no kernel."""
    return MappingKernelManager(kernel_spec_manager=KernelSpecManager())


def test_shortfall_counts_idle_and_starting_kernels(idle_manager: MappingKernelManager) -> None:
    pool = WarmPool(idle_manager, 3, "python3")
    assert pool.shortfall() == 3

    pool.idle.extend(["a", "b"])
    assert pool.shortfall() == 1

    pool.starting = 1
    assert pool.shortfall() == 0

    pool.starting = 5
    assert pool.shortfall() == 0


@pytest.mark.parametrize(
    ("idle", "name", "language", "env", "expected"),
    [
        (["a"], "python3", "python", {}, True),
        (["a"], "python3", "python", {"KERNEL_FOO": "x"}, True),
        ([], "python3", "python", {}, False),
        (["a"], "other", "python", {}, False),
        (["a"], "python3", "R", {}, True),
        (["a"], "python3", "R", {"KERNEL_FOO": "x"}, False),
    ],
)
def test_a_warm_kernel_serves_only_its_own_kind_and_env_it_can_apply(
    idle_manager: MappingKernelManager,
    idle: list[str],
    name: str,
    language: str,
    env: dict[str, str],
    expected: bool,
) -> None:
    pool = WarmPool(idle_manager, 1, "python3")
    pool.idle.extend(idle)

    assert pool.can_serve(name, language, env) is expected


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
        warm_ids = list(manager.warm_pool.idle)
        warm_pids = {provisioner_pid(manager, kernel_id) for kernel_id in warm_ids}
        assert len(warm_pids) == 2
        assert (manager.kernel_ids(), manager.kernel_models()) == ([], [])
        with pytest.raises(UnknownKernel):
            manager.connection(warm_ids[0])

        started = time.monotonic()
        env = {"KERNEL_FOO": "x", "KERNEL_WORKING_DIR": str(workdir)}
        kernel_id = await manager.start_kernel(env=env)
        assert time.monotonic() - started < 1.5

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
        await wait_for(lambda: len(pool.idle) == 2, 15, "the warm pool's refill")
        assert pool.idle[0] == warm_ids[1]
        refilled = pool.idle[1]
        assert refilled not in warm_ids
        assert manager.kernel_ids() == [kernel_id]

        other_id = await manager.start_kernel("other_python", env={"KERNEL_FOO": "y"})
        assert manager.kernel_model(other_id)["name"] == "other_python"
        assert provisioner_pid(manager, other_id) not in warm_pids
        assert list(pool.idle) == [warm_ids[1], refilled]
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
        while len(pool.idle) < 1 and time.monotonic() < deadline:
            seen.append(manager.kernel_ids())
            await asyncio.sleep(0.01)

        assert len(pool.idle) == 1
        assert [ids for ids in seen if ids != [kernel_id]] == []


async def test_shutdown_all_while_a_refill_waits_for_its_kernel_leaves_no_process() -> None:
    async with running_manager() as manager:
        await manager.start_warm_pool(1)
        await manager.start_kernel()
        await asyncio.sleep(0.2)

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
        await asyncio.sleep(0.5)
        left = kernel_children()
        await release(manager)

    assert (failure, left) == (None, [])


async def test_warm_kernels_are_unknown_to_every_operation_by_id() -> None:
    async with running_manager() as manager:
        await manager.start_warm_pool(1)
        assert manager.warm_pool is not None
        (warm_id,) = manager.warm_pool.idle

        for action in (manager.restart_kernel, manager.interrupt_kernel):
            with pytest.raises(UnknownKernel):
                await action(warm_id)
        with pytest.raises(UnknownKernel):
            manager.kernel_model(warm_id)
        with pytest.raises(UnknownKernel):
            await manager.shutdown_kernel(warm_id)

        assert list(manager.warm_pool.idle) == [warm_id]
        assert warm_id in manager.connections


async def test_a_warm_kernel_that_died_is_not_handed_out() -> None:
    async with running_manager() as manager:
        await manager.start_warm_pool(1)
        assert manager.warm_pool is not None
        (warm_id,) = manager.warm_pool.idle
        os.kill(provisioner_pid(manager, warm_id), signal.SIGKILL)

        kernel_id = await manager.start_kernel(env={"KERNEL_FOO": "x"})

        assert kernel_id != warm_id
        assert warm_id not in manager.connections
        connection = manager.connection(kernel_id)
        assert await evaluate(connection, "__import__('os').environ['KERNEL_FOO']") == "x"
