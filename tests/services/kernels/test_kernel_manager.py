"""The gateway's kernel manager on real ipykernel kernels: names, env, limits, seeds, life."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.paths import jupyter_runtime_dir
from kernel_helpers import (
    dying_kernel_argv,
    evaluate,
    is_running,
    kernel_children,
    kernel_pid,
    moves,
    provisioner_pid,
    record_events,
    run,
    running_manager,
    spec_manager_with,
    states,
    wait_for,
)

from kernel_gateway.errors import (
    CellError,
    KernelLimitReached,
    KernelStartFailed,
    UnknownKernel,
    UnknownKernelSpec,
)
from kernel_gateway.services.kernels.connection import KernelConnection
from kernel_gateway.services.kernels.events import KernelEvent, KernelState
from kernel_gateway.services.kernels.execution import execute
from kernel_gateway.services.kernels.manager import MappingKernelManager
from kernel_gateway.services.kernels.messages import KernelMessage
from kernel_gateway.services.kernels.policy import KernelPolicy

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
DEFAULT_NAME = "python3"
SEEDS = ("seeded = 'yes'", "counter = 41", "counter += 1")


def synthetic_states(messages: list[KernelMessage], connection: KernelConnection) -> list[str]:
    """Execution states of the status messages the manager made up for a connection."""
    return [
        message.content["execution_state"]
        for message in messages
        if message.msg_type == "status" and message.header["session"] == connection.session_id
    ]


def listen_for_restarts(
    manager: MappingKernelManager, heard: list[KernelMessage]
) -> list[tuple[str, str, str, bool]]:
    """The kernel events from now on: (kernel_id, new state, reason, seeded again by then)."""
    restarts: list[tuple[str, str, str, bool]] = []

    def listen(event: KernelEvent) -> None:
        restarts.append((event.kernel_id, event.new.value, event.reason.value, seeded_again(heard)))

    manager.events.subscribe(listen)
    return restarts


def files_in(folder: Path) -> set[Path]:
    return set(folder.iterdir())


def seeded_again(messages: list[KernelMessage]) -> bool:
    """Whether the kernel has finished running the last seed cell (as its iopub tells)."""
    last_seed = {
        message.parent_msg_id
        for message in messages
        if message.msg_type == "execute_input" and message.content["code"] == SEEDS[-1]
    }
    return any(
        message.msg_type == "status"
        and message.parent_msg_id in last_seed
        and message.content["execution_state"] == "idle"
        for message in messages
    )


# -- kernel names (no kernel started) --------------------------------------------------------


def manager_with(**policy: object) -> MappingKernelManager:
    return MappingKernelManager(
        kernel_spec_manager=KernelSpecManager(),
        policy=KernelPolicy(**policy),  # type: ignore[arg-type]
    )


def test_kernel_name_is_forced_requested_default_then_the_spec_managers() -> None:
    assert manager_with().resolve_kernel_name(None) == DEFAULT_NAME
    assert manager_with().resolve_kernel_name(DEFAULT_NAME) == DEFAULT_NAME
    assert manager_with(default_kernel_name=DEFAULT_NAME).resolve_kernel_name(None) == (
        DEFAULT_NAME
    )
    assert manager_with(force_kernel_name=DEFAULT_NAME).resolve_kernel_name("nope") == (
        DEFAULT_NAME
    )


@pytest.mark.parametrize(
    ("policy", "requested"),
    [({}, "no_such_kernel"), ({"default_kernel_name": "no_such_kernel"}, None)],
)
def test_an_unknown_kernel_name_raises_unknown_kernel_spec(
    policy: dict[str, str], requested: str | None
) -> None:
    with pytest.raises(UnknownKernelSpec, match=r"^No such kernel: no_such_kernel$") as info:
        manager_with(**policy).resolve_kernel_name(requested)

    assert info.value.name == "no_such_kernel"


def test_a_new_manager_has_no_kernels() -> None:
    manager = manager_with()

    assert (manager.kernel_ids(), manager.kernel_models()) == ([], [])


# -- starting --------------------------------------------------------------------------------


async def test_start_refuses_unknown_names_and_unknown_ids() -> None:
    async with running_manager() as manager:
        with pytest.raises(UnknownKernelSpec):
            await manager.start_kernel("no_such_kernel")
        assert manager.kernel_ids() == []

        for operation in (
            manager.connection,
            manager.kernel_model,
        ):
            with pytest.raises(UnknownKernel, match=r"^Kernel does not exist: nope$"):
                operation("nope")
        for action in (
            manager.shutdown_kernel,
            manager.restart_kernel,
            manager.interrupt_kernel,
        ):
            with pytest.raises(UnknownKernel, match=r"^Kernel does not exist: nope$"):
                await action("nope")


async def test_seed_cells_run_before_start_kernel_returns() -> None:
    async with running_manager(seed_cells=SEEDS) as manager:
        connection = manager.connection(await manager.start_kernel())

        assert await evaluate(connection, "(seeded, counter)") == ("yes", 42)


async def test_a_failing_seed_cell_raises_cell_error_and_leaves_no_kernel() -> None:
    seeds = ("import sys", "print('seeding')", "1 / 0", "never = True")
    async with running_manager(seed_cells=seeds) as manager:
        with pytest.raises(CellError) as info:
            await manager.start_kernel()

        assert info.value.message == (  # no notebook: counted among the seed cells
            'cell 3 "1 / 0": ZeroDivisionError: division by zero (line 1 of the cell)'
        )
        assert (info.value.ename, info.value.evalue) == ("ZeroDivisionError", "division by zero")
        assert info.value.traceback
        assert (manager.kernel_ids(), manager.list_kernel_ids()) == ([], [])
        assert len(manager.registry) == 0
        await wait_for(lambda: kernel_children() == [], 5, "the seeded kernel's exit")


async def test_kernel_env_follows_the_policy_and_working_dir_is_entered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KG_AUTH_TOKEN", "secret")
    monkeypatch.setenv("KG_TEST_SHARED", "shared")
    monkeypatch.setenv("KG_TEST_PRIVATE", "private")
    whitelist = ("KG_TEST_SHARED", "KG_AUTH_TOKEN")
    requested = {"KERNEL_FOO": "x", "KERNEL_WORKING_DIR": str(tmp_path)}
    async with running_manager(env_process_whitelist=whitelist) as manager:
        connection = manager.connection(await manager.start_kernel(env=requested))

        env = await evaluate(connection, "dict(__import__('os').environ)")
        cwd = await evaluate(connection, "__import__('os').getcwd()")

    assert {name: env.get(name) for name in (*whitelist, "KG_TEST_PRIVATE", "PATH")} == {
        "KG_TEST_SHARED": "shared",
        "KG_AUTH_TOKEN": None,
        "KG_TEST_PRIVATE": None,
        "PATH": os.environ["PATH"],
    }
    assert {name: value for name, value in env.items() if name.startswith("KERNEL_")} == {
        "KERNEL_FOO": "x",
        "KERNEL_WORKING_DIR": str(tmp_path),
        "KERNEL_GATEWAY": "1",
    }
    assert cwd == str(tmp_path)


async def test_connection_files_go_to_the_runtime_dir_not_the_current_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        connection_file = Path(manager.get_kernel(kernel_id).connection_file)

        assert connection_file.parent == Path(jupyter_runtime_dir())
        assert (files_in(connection_file.parent) & {connection_file}, files_in(tmp_path)) == (
            {connection_file},
            set(),
        )

        await manager.shutdown_kernel(kernel_id)

        assert connection_file not in files_in(connection_file.parent)
    assert files_in(tmp_path) == set()


async def test_max_kernels_counts_running_and_starting_kernels() -> None:
    async with running_manager(max_kernels=2) as manager:
        outcomes = await asyncio.gather(
            *(manager.start_kernel() for _ in range(3)), return_exceptions=True
        )
        started = [outcome for outcome in outcomes if isinstance(outcome, str)]
        refused = [outcome for outcome in outcomes if not isinstance(outcome, str)]

        assert len(started) == 2
        assert [type(error) for error in refused] == [KernelLimitReached]
        assert str(refused[0]) == "A max kernels limit of 2 has been reached"
        assert sorted(manager.kernel_ids()) == sorted(started)

        await manager.shutdown_kernel(started[0])
        replacement = await manager.start_kernel()
        assert sorted(manager.kernel_ids()) == sorted([started[1], replacement])


async def test_max_kernels_counts_a_kernel_still_running_its_seed_cells() -> None:
    slow_seed = ("import time; time.sleep(1)",)
    async with running_manager(max_kernels=1, seed_cells=slow_seed) as manager:
        first = asyncio.create_task(manager.start_kernel())
        await wait_for(lambda: manager.list_kernel_ids() != [], 20, "the first kernel's launch")
        assert manager.kernel_ids() == []  # launched, not yet seeded nor handed out

        with pytest.raises(KernelLimitReached):
            await manager.start_kernel()
        kernel_id = await first
        assert manager.kernel_ids() == [kernel_id]


# -- kernels that die while starting -----------------------------------------------------------


async def test_a_kernel_not_restarted_that_dies_starting_is_launched_once_more(
    tmp_path: Path,
) -> None:
    launches = tmp_path / "launches"
    specs = spec_manager_with(tmp_path, "dies_once", dying_kernel_argv(launches, deaths=1))
    async with running_manager(specs, seed_cells=SEEDS) as manager:
        kernel_id = await manager.start_kernel("dies_once", restart_on_death=False)

        assert launches.read_text().splitlines() == ["launch", "launch"]
        assert manager.kernel_ids() == [kernel_id]
        assert manager.list_kernel_ids() == [kernel_id]  # the dead one is forgotten
        assert await evaluate(manager.connection(kernel_id), "(seeded, counter)") == ("yes", 42)


async def test_a_kernel_restarted_while_starting_is_seeded_once(tmp_path: Path) -> None:
    launches = tmp_path / "launches"
    specs = spec_manager_with(tmp_path, "dies_twice", dying_kernel_argv(launches, deaths=2))
    counting_seed = ("seedings = globals().get('seedings', 0) + 1",)
    async with running_manager(specs, seed_cells=counting_seed) as manager:
        events = record_events(manager)
        kernel_id = await manager.start_kernel("dies_twice")
        connection = manager.connection(kernel_id)

        assert launches.read_text().splitlines() == ["launch"] * 3  # the restarter's work
        assert await evaluate(connection, "seedings") == 1
        # both restarts happened before it was ready: no restart (and reseeding) after
        assert moves(events) == [("", "starting", "launch"), ("starting", "ready", "launch")]


async def test_a_kernel_that_always_dies_starting_is_a_start_failure_leaving_nothing(
    tmp_path: Path,
) -> None:
    launches = tmp_path / "launches"
    specs = spec_manager_with(tmp_path, "always_dies", dying_kernel_argv(launches, deaths=99))
    async with running_manager(specs) as manager:
        with pytest.raises(KernelStartFailed, match="'always_dies' died while starting"):
            await manager.start_kernel("always_dies", restart_on_death=False)

        assert launches.read_text().splitlines() == ["launch", "launch"]  # tried twice
        assert (manager.kernel_ids(), manager.list_kernel_ids()) == ([], [])
        assert kernel_children() == []


# -- models ----------------------------------------------------------------------------------


async def test_kernel_model_reports_like_a_jupyter_server() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        await wait_for(lambda: connection.execution_state == "idle", 5, "idle after start")
        before = time.time()
        await run(connection, "pass")
        connection.clients = 2

        model = manager.kernel_model(kernel_id)

        assert model == {
            "id": kernel_id,
            "name": DEFAULT_NAME,
            "last_activity": model["last_activity"],
            "execution_state": "idle",
            "connections": 2,
        }
        assert ISO_UTC.match(model["last_activity"])
        assert model["last_activity"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before))
        assert manager.kernel_models() == [model]


# -- restart, interrupt ----------------------------------------------------------------------


async def test_restart_keeps_the_id_resets_state_and_seeds_again() -> None:
    async with running_manager(seed_cells=SEEDS) as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        await run(connection, "counter = 0; extra = 'gone after restart'")
        old_pid = await kernel_pid(connection)
        heard: list[KernelMessage] = []
        connection.subscribe(heard.append)
        restarts = listen_for_restarts(manager, heard)

        await manager.restart_kernel(kernel_id)

        assert manager.kernel_ids() == [kernel_id]
        assert manager.connection(kernel_id) is connection
        assert await kernel_pid(connection) not in (old_pid, None)
        assert not is_running(old_pid)
        assert await evaluate(connection, "(seeded, counter, 'extra' in globals())") == (
            "yes",
            42,
            False,
        )
        assert synthetic_states(heard, connection) == []  # clients hear no "restarting"
        assert restarts == [
            (kernel_id, "restarting", "manual", False),
            (kernel_id, "ready", "manual", True),
        ]


async def test_interrupt_stops_a_running_cell_quickly() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        printed: list[KernelMessage] = []
        connection.subscribe(lambda message: printed.append(message))
        sleep = "import time; print('sleeping', flush=True); time.sleep(60)"
        running = asyncio.ensure_future(execute(connection, [sleep, "print('next')"], 30))
        await wait_for(lambda: any(m.msg_type == "stream" for m in printed), 20, "the cell's sleep")

        await manager.interrupt_kernel(kernel_id)
        sleeping, after = await asyncio.wait_for(running, 20)  # not the 60 s sleep

        assert sleeping.status == "error"
        assert sleeping.error is not None
        assert sleeping.error[0] == "KeyboardInterrupt"
        assert (after.stdout, after.error) == ("", None)
        assert await evaluate(connection, "'still alive'") == "still alive"


# -- death -----------------------------------------------------------------------------------


async def test_a_killed_idle_kernel_restarts_by_itself_with_its_seed_state() -> None:
    async with running_manager(seed_cells=SEEDS) as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        await run(connection, "counter = 0")
        old_pid = provisioner_pid(manager, kernel_id)
        heard: list[KernelMessage] = []
        reported: list[str] = []  # the model's state as the seed cells' last "idle" arrives

        def hear(message: KernelMessage) -> None:
            heard.append(message)
            if seeded_again(heard) and not reported:
                reported.append(manager.kernel_model(kernel_id)["execution_state"])

        connection.subscribe(hear)
        restarts = listen_for_restarts(manager, heard)

        os.kill(old_pid, signal.SIGKILL)
        await wait_for(lambda: seeded_again(heard), 15, "the restart and its seeding")
        announced = ["restarting", "idle"]  # "idle" once seeded again
        await wait_for(lambda: synthetic_states(heard, connection) == announced, 5, "idle")
        assert restarts == [
            (kernel_id, "restarting", "auto", False),
            (kernel_id, "ready", "auto", True),
        ]
        assert reported == ["restarting"]  # not "idle" before its seeds have run

        assert await evaluate(connection, "(seeded, counter)") == ("yes", 42)
        assert manager.kernel_ids() == [kernel_id]
        assert manager.kernel_model(kernel_id)["execution_state"] == "idle"
        assert await kernel_pid(connection) == provisioner_pid(manager, kernel_id) != old_pid


async def test_a_killed_kernel_without_restart_is_announced_dead_and_forgotten() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel(restart_on_death=False)
        survivor = await manager.start_kernel(restart_on_death=False)
        connection = manager.connection(kernel_id)
        heard: list[KernelMessage] = []
        connection.subscribe(heard.append)
        events = record_events(manager)
        pid = provisioner_pid(manager, kernel_id)

        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: states(events, KernelState.DEAD) != [], 6, "the death notice")
        await wait_for(
            lambda: manager.list_kernel_ids() == [survivor], 5, "the dead kernel's removal"
        )
        assert manager.kernel_ids() == [survivor]

        assert moves(events) == [("ready", "dead", "died"), ("dead", "gone", "died")]
        assert states(events, KernelState.DEAD) == [kernel_id]
        assert synthetic_states(heard, connection) == ["dead"]
        assert not is_running(pid)
        with pytest.raises(UnknownKernel):
            manager.connection(kernel_id)


# -- shutdown, culling -----------------------------------------------------------------------


async def test_shutdown_all_leaves_no_kernel_process() -> None:
    async with running_manager() as manager:
        kernel_ids = await asyncio.gather(manager.start_kernel(), manager.start_kernel())
        pids = [provisioner_pid(manager, kernel_id) for kernel_id in kernel_ids]
        reported = [await kernel_pid(manager.connection(kernel_id)) for kernel_id in kernel_ids]
        assert pids == reported
        assert sorted(kernel_children()) == sorted(pids)

        await manager.shutdown_all()

        assert [is_running(pid) for pid in pids] == [False, False]
        assert (manager.kernel_ids(), manager.list_kernel_ids()) == ([], [])
        assert kernel_children() == []


async def test_shutdown_as_an_auto_restart_begins_closes_everything() -> None:
    connections: list[KernelConnection] = []
    try:
        async with running_manager() as manager:
            kernel_id = await manager.start_kernel()
            connection = manager.connection(kernel_id)
            connections.append(connection)
            restarting = asyncio.get_running_loop().create_future()

            def listen(message: KernelMessage) -> None:
                if synthetic_states([message], connection) and not restarting.done():
                    restarting.set_result(None)

            connection.subscribe(listen)
            os.kill(provisioner_pid(manager, kernel_id), signal.SIGKILL)
            await asyncio.wait_for(restarting, 6)
            await manager.shutdown_all()

            assert (manager.kernel_ids(), manager.list_kernel_ids()) == ([], [])
            await wait_for(lambda: kernel_children() == [], 5, "every kernel's exit")
            assert not connection.is_open
    finally:
        for connection in connections:
            connection.close()


async def test_shutdown_all_while_a_dead_kernel_is_being_removed() -> None:
    async with running_manager() as manager:
        kernel_id = await manager.start_kernel(restart_on_death=False)

        os.kill(provisioner_pid(manager, kernel_id), signal.SIGKILL)
        await wait_for(lambda: kernel_id not in manager.registry, 6, "the death notice", interval=0)
        await manager.shutdown_all()

        assert (manager.kernel_ids(), manager.list_kernel_ids()) == ([], [])
        await wait_for(lambda: kernel_children() == [], 5, "every kernel's exit")


async def test_culling_shuts_down_idle_kernels_that_are_not_exempt() -> None:
    async with running_manager() as manager:
        manager.cull_idle_timeout = 1
        manager.cull_interval = 1
        culled, kept = await asyncio.gather(manager.start_kernel(), manager.start_kernel())
        events = record_events(manager)

        manager.start_culling(exempt=lambda kernel_id: kernel_id == kept)
        await wait_for(lambda: manager.kernel_ids() == [kept], 6, "culling")
        manager.stop_culling()

        assert manager.kernel_ids() == [kept]
        assert culled not in manager.registry
        assert moves(events) == [("ready", "gone", "culled")]


async def test_a_kernel_handed_out_at_launch_is_readied_in_the_background() -> None:
    async with running_manager() as manager:
        events = record_events(manager)

        kernel_id = await manager.start_kernel(wait_ready=False)

        assert manager.kernel_model(kernel_id)["execution_state"] == "starting"
        assert moves(events, kernel_id) == [("", "starting", "launch")]
        await manager.get(kernel_id).ready(30)
        assert moves(events, kernel_id) == [
            ("", "starting", "launch"),
            ("starting", "ready", "launch"),
        ]
        duration = events[-1].duration
        assert duration is not None  # the start's time, for metrics
        assert duration > 0
        assert await evaluate(manager.connection(kernel_id), "6 * 7") == 42


async def test_with_seed_cells_a_kernel_is_always_ready_when_handed_out() -> None:
    async with running_manager(seed_cells=SEEDS) as manager:
        events = record_events(manager)

        kernel_id = await manager.start_kernel(wait_ready=False)

        assert moves(events, kernel_id) == [
            ("", "starting", "launch"),
            ("starting", "ready", "launch"),
        ]
        assert await evaluate(manager.connection(kernel_id), "seeded") == "yes"


async def test_interrupting_a_kernel_still_starting_waits_instead_of_killing_it() -> None:
    async with running_manager() as manager:
        events = record_events(manager)
        kernel_id = await manager.start_kernel(wait_ready=False)
        pid = provisioner_pid(manager, kernel_id)

        await manager.interrupt_kernel(kernel_id)  # SIGINT now would kill it mid-import

        connection = manager.connection(kernel_id)
        assert await evaluate(connection, "6 * 7") == 42
        assert provisioner_pid(manager, kernel_id) == pid  # same process
        assert moves(events) == [("", "starting", "launch"), ("starting", "ready", "launch")]


async def test_interrupting_a_kernel_while_it_restarts_waits_instead_of_killing_it() -> None:
    async with running_manager(seed_cells=SEEDS) as manager:
        kernel_id = await manager.start_kernel()
        connection = manager.connection(kernel_id)
        await run(connection, "counter = 'before the restart'")
        old_pid = provisioner_pid(manager, kernel_id)
        events = record_events(manager)

        km = manager.get_kernel(kernel_id)
        restart = asyncio.create_task(manager.restart_kernel(kernel_id))
        await wait_for(
            lambda: getattr(km.provisioner, "pid", None) not in (None, old_pid),
            20,
            "the new process",
        )
        new_pid = provisioner_pid(manager, kernel_id)
        await manager.interrupt_kernel(kernel_id)  # SIGINT now would kill it mid-import

        assert restart.done()  # the interrupt waited for the restart
        await restart
        assert await evaluate(connection, "counter") == 42  # fresh and seeded, answering
        assert provisioner_pid(manager, kernel_id) == new_pid  # not killed and restarted
        assert is_running(new_pid)
        assert moves(events) == [
            ("ready", "restarting", "manual"),
            ("restarting", "ready", "manual"),
        ]
