"""The environment policy: what reaches a kernel from the client and from the gateway."""

from __future__ import annotations

import pytest

from kernel_gateway.errors import BadRequest
from kernel_gateway.services.kernels.policy import (
    KernelPolicy,
    check_env,
    client_env,
    kernel_env,
    launch_timeout,
)


def test_client_env_passes_kernel_variables_and_whitelisted_ones() -> None:
    requested = {
        "KERNEL_FOO": "x",
        "KERNEL_NUMBER": "3",
        "ALLOWED": "y",
        "HOME": "/elsewhere",
        "PATH": "/evil/bin",
        "kernel_lower": "no",
    }

    assert client_env(requested, ["ALLOWED"]) == {
        "KERNEL_FOO": "x",
        "KERNEL_NUMBER": "3",
        "ALLOWED": "y",
    }


def test_client_env_never_passes_the_auth_token_even_if_whitelisted() -> None:
    requested = {"KG_AUTH_TOKEN": "stolen", "KERNEL_FOO": "x"}

    assert client_env(requested, ["KG_AUTH_TOKEN"]) == {"KERNEL_FOO": "x"}


def test_client_env_of_nothing_is_nothing() -> None:
    assert client_env({}, ["ALLOWED"]) == {}


UNFIT = "has an empty name, '=' or a NUL character"


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ({"KERNEL_X": None}, "env value of 'KERNEL_X' must be a string, not null"),
        ({"KERNEL_X": True}, "env value of 'KERNEL_X' must be a string, not true"),
        ({"KERNEL_X": 3}, "env value of 'KERNEL_X' must be a string, not 3"),
        ({"KERNEL_X": [1]}, "env value of 'KERNEL_X' must be a string, not [1]"),
        ({"DROPPED": {}}, "env value of 'DROPPED' must be a string, not {}"),
        ({"K" * 100: 1}, f"env value of {'K' * 80!r}... must be a string, not 1"),
        ({"KERNEL_X": "a\0b"}, "env variable 'KERNEL_X' has an empty name, '=' or a NUL character"),
        (
            {"KERNEL_A=B": "x"},
            "env variable 'KERNEL_A=B' has an empty name, '=' or a NUL character",
        ),
    ],
)
def test_client_env_refuses_what_no_environment_can_hold(
    requested: dict[str, object], message: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        client_env(requested, [])
    assert refused.value.message == message


def test_client_env_doesnt_check_the_text_of_variables_it_drops() -> None:
    assert client_env({"OTHER": "a\0b", "": "x"}, []) == {}


@pytest.mark.parametrize("env", [{"": "x"}, {"K": "\ud800"}, {"K\0": "x"}])
def test_check_env_refuses_empty_names_and_unencodable_text(env: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        check_env(env)


def test_check_env_refuses_variables_too_long_for_a_process() -> None:
    check_env({"K": "x" * (128 * 1024 - 3)})  # K=...\0 is exactly 128 KiB
    with pytest.raises(BadRequest) as one:
        check_env({"K": "x" * (128 * 1024 - 2)})
    assert one.value.message == "env variable 'K' is 131073 bytes; at most 131072"
    with pytest.raises(BadRequest) as all_of_them:
        check_env({f"K{i}": "x" * 100_000 for i in range(11)})
    assert all_of_them.value.message.endswith("bytes; at most 1048576")


def test_check_env_accepts_any_other_text() -> None:
    check_env({"KERNEL_X": "é ü 😀 = ; $HOME", "A_B": ""})


@pytest.fixture
def process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway process environment with a secret, whitelisted and other variables."""
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin")
    monkeypatch.setenv("KG_AUTH_TOKEN", "secret")
    monkeypatch.setenv("SHARED_SETTING", "shared")
    monkeypatch.setenv("PRIVATE_SETTING", "private")
    monkeypatch.setenv("KERNEL_FROM_PROCESS", "not inherited")
    monkeypatch.delenv("ABSENT_SETTING", raising=False)


@pytest.mark.usefixtures("process_env")
def test_kernel_env_inherits_only_path_and_the_process_whitelist() -> None:
    policy = KernelPolicy(env_process_whitelist=("SHARED_SETTING", "ABSENT_SETTING"))

    assert kernel_env(policy, {"KERNEL_FOO": "x"}) == {
        "PATH": "/usr/local/bin:/usr/bin",
        "SHARED_SETTING": "shared",
        "KERNEL_FOO": "x",
        "KERNEL_GATEWAY": "1",
    }


@pytest.mark.usefixtures("process_env")
def test_kernel_env_never_inherits_the_auth_token_even_if_whitelisted() -> None:
    policy = KernelPolicy(env_process_whitelist=("KG_AUTH_TOKEN", "SHARED_SETTING"))

    assert kernel_env(policy, {}) == {
        "PATH": "/usr/local/bin:/usr/bin",
        "SHARED_SETTING": "shared",
        "KERNEL_GATEWAY": "1",
    }


@pytest.mark.usefixtures("process_env")
def test_kernel_env_marks_every_kernel_as_started_by_the_gateway() -> None:
    assert kernel_env(KernelPolicy(), {"KERNEL_GATEWAY": "0"}) == {
        "PATH": "/usr/local/bin:/usr/bin",
        "KERNEL_GATEWAY": "1",
    }


@pytest.mark.usefixtures("process_env")
def test_kernel_env_lets_the_client_part_override_inherited_values() -> None:
    policy = KernelPolicy(env_process_whitelist=("SHARED_SETTING",))

    assert kernel_env(policy, {"SHARED_SETTING": "from client"}) == {
        "PATH": "/usr/local/bin:/usr/bin",
        "SHARED_SETTING": "from client",
        "KERNEL_GATEWAY": "1",
    }


@pytest.mark.usefixtures("process_env")
def test_client_env_then_kernel_env_is_what_a_requested_kernel_gets() -> None:
    whitelist = ("SHARED_SETTING", "KG_AUTH_TOKEN")
    policy = KernelPolicy(env_process_whitelist=whitelist)
    requested = {"KERNEL_FOO": "x", "KG_AUTH_TOKEN": "forged", "HOME": "/h", "PATH": "/evil"}

    assert kernel_env(policy, client_env(requested, whitelist)) == {
        "PATH": "/usr/local/bin:/usr/bin",
        "SHARED_SETTING": "shared",
        "KERNEL_FOO": "x",
        "KERNEL_GATEWAY": "1",
    }


def test_kernel_env_without_path_in_the_process_has_no_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PATH")

    assert kernel_env(KernelPolicy(), {}) == {"KERNEL_GATEWAY": "1"}


def test_default_policy_has_no_limits_names_whitelist_or_seeds() -> None:
    assert KernelPolicy() == KernelPolicy(
        max_kernels=None,
        default_kernel_name="",
        force_kernel_name="",
        env_process_whitelist=(),
        seed_cells=(),
    )


@pytest.mark.parametrize(
    ("raw", "seconds"), [("2", 2.0), (" 7.5 ", 7.5), ("1e2", 100.0), ("", None), ("  ", None)]
)
def test_launch_timeout_is_the_env_s_positive_number_of_seconds(
    raw: str, seconds: float | None
) -> None:
    assert launch_timeout({"KERNEL_LAUNCH_TIMEOUT": raw}) == seconds


def test_launch_timeout_of_an_env_without_it_is_none() -> None:
    assert launch_timeout({"KERNEL_X": "1"}) is None


@pytest.mark.parametrize("raw", ["0", "-3", "soon", "nan", "inf"])
def test_a_launch_timeout_that_is_no_positive_number_is_a_bad_request(raw: str) -> None:
    with pytest.raises(BadRequest, match="KERNEL_LAUNCH_TIMEOUT must be a positive number"):
        check_env({"KERNEL_LAUNCH_TIMEOUT": raw})
