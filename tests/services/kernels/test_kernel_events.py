"""Kernel events: the announcement bus (no kernel needed)."""

from __future__ import annotations

import pytest

from kernel_gateway.services.kernels.events import KernelEvent, KernelEvents, KernelState, Reason


def event(new: KernelState, reason: Reason = Reason.LAUNCH) -> KernelEvent:
    return KernelEvent("k1", "python3", None, new, reason, at=0.0)


def test_listeners_hear_every_event_in_order_until_they_unsubscribe() -> None:
    events = KernelEvents()
    first: list[KernelEvent] = []
    second: list[KernelEvent] = []
    stop_first = events.subscribe(first.append)
    events.subscribe(second.append)

    events.announce(event(KernelState.STARTING))
    stop_first()
    stop_first()  # twice is harmless
    events.announce(event(KernelState.READY))

    assert first == [event(KernelState.STARTING)]
    assert second == [event(KernelState.STARTING), event(KernelState.READY)]


def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = KernelEvents()
    heard: list[KernelState] = []

    def broken(_: KernelEvent) -> None:
        raise RuntimeError("listener bug")

    events.subscribe(broken)
    events.subscribe(lambda e: heard.append(e.new))

    events.announce(event(KernelState.GONE, Reason.SHUTDOWN))

    assert heard == [KernelState.GONE]
    assert [r.getMessage().split(" on ")[0] for r in caplog.records] == [
        "A kernel event listener failed"
    ]


def test_an_event_is_a_frozen_value() -> None:
    ready = KernelEvent(
        "k1", "python3", KernelState.STARTING, KernelState.READY, Reason.LAUNCH, 0.4, 1.0
    )

    assert ready == KernelEvent(
        kernel_id="k1",
        kernel_name="python3",
        old=KernelState.STARTING,
        new=KernelState.READY,
        reason=Reason.LAUNCH,
        duration=0.4,
        at=1.0,
    )
    with pytest.raises(AttributeError):
        ready.new = KernelState.GONE  # type: ignore[misc]
