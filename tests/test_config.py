"""The KG_* rule of config.py: parsing with the trait, whole configs, errors naming the variable."""

from __future__ import annotations

import pytest
from traitlets import Bool, CBool, Dict, Float, Integer, List, Unicode
from traitlets.config import Config, Configurable

from kernel_gateway.config import env_config, parse_env_value, unset_in
from kernel_gateway.errors import StartupError


class Options(Configurable):
    """Stands for an app: one trait of each kind the gateway tags."""

    port = Integer(8888).tag(config=True, env="KG_PORT")
    limit = Integer(None, allow_none=True).tag(config=True, env="KG_LIMIT")
    ratio = Float(1.0).tag(config=True, env="KG_RATIO")
    listing = Bool(False).tag(config=True, env="KG_LISTING")
    xheaders = CBool(False).tag(config=True, env="KG_XHEADERS")
    token = Unicode("").tag(config=True, env="KG_TOKEN")
    seed = Unicode(None, allow_none=True).tag(config=True, env="KG_SEED")
    names = List(Unicode()).tag(config=True, env="KG_NAMES")
    prefixes = Dict().tag(config=True, env="KG_PREFIXES")
    untagged = Integer(1).tag(config=True)


class Mode(Configurable):
    enabled = Bool(True).tag(config=True, env="KG_ENABLED")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("0", False),
        (" true ", True),
    ],
)
def test_booleans_accept_true_false_1_0_in_any_case(raw: str, value: bool) -> None:
    assert parse_env_value(Options.class_traits()["listing"], "KG_LISTING", raw) is value
    assert parse_env_value(Options.class_traits()["xheaders"], "KG_XHEADERS", raw) is value


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("port", "9000", 9000),
        ("port", " 9000 ", 9000),
        ("limit", "4", 4),
        ("limit", "", None),
        ("limit", "None", None),
        ("ratio", "2.5", 2.5),
        ("token", "s3cr3t", "s3cr3t"),
        ("token", "~tilde", "~tilde"),
        ("token", '"quoted"', '"quoted"'),
        ("token", " spaced ", " spaced "),
        ("token", "", ""),
        ("seed", "/tmp/nb.ipynb", "/tmp/nb.ipynb"),
        ("seed", "", None),
        ("names", "PATH,HOME", ["PATH", "HOME"]),
        ("names", " PATH , HOME ,", ["PATH", "HOME"]),
        ("names", "ONE", ["ONE"]),
        ("names", "", []),
        ("prefixes", "scala=//,python=#", {"scala": "//", "python": "#"}),
    ],
)
def test_values_parse_with_the_trait(name: str, raw: str, value: object) -> None:
    assert parse_env_value(Options.class_traits()[name], "KG_X", raw) == value


@pytest.mark.parametrize(
    ("name", "variable", "raw", "message"),
    [
        (
            "port",
            "KG_PORT",
            "abc",
            "Invalid value 'abc' for environment variable KG_PORT: expected an int",
        ),
        (
            "port",
            "KG_PORT",
            "",
            "Invalid value '' for environment variable KG_PORT: expected an int",
        ),
        (
            "listing",
            "KG_LIST_KERNELS",
            "maybe",
            "Invalid value 'maybe' for environment variable KG_LIST_KERNELS: "
            "expected true, false, 1 or 0",
        ),
        (
            "ratio",
            "KG_RATIO",
            "fast",
            "Invalid value 'fast' for environment variable KG_RATIO: expected a float",
        ),
        (
            "prefixes",
            "KG_PREFIXES",
            "scala",
            "Invalid value 'scala' for environment variable KG_PREFIXES: expected a dict",
        ),
    ],
)
def test_a_bad_value_names_the_variable(name: str, variable: str, raw: str, message: str) -> None:
    with pytest.raises(StartupError) as info:
        parse_env_value(Options.class_traits()[name], variable, raw)
    assert str(info.value) == message


def test_env_config_holds_every_set_variable_under_its_class() -> None:
    environ = {
        "KG_PORT": "9001",
        "KG_LISTING": "True",
        "KG_NAMES": "A,B",
        "KG_SEED": "",
        "KG_ENABLED": "0",
        "KG_UNRELATED": "x",
        "PATH": "/bin",
    }
    config = env_config([Options, Mode], environ)
    assert config == {
        "Options": {"port": 9001, "listing": True, "names": ["A", "B"], "seed": None},
        "Mode": {"enabled": False},
    }


def test_env_config_is_empty_without_variables() -> None:
    assert env_config([Options, Mode], {"HOME": "/root"}) == {}


def test_env_config_raises_for_the_first_bad_variable() -> None:
    with pytest.raises(StartupError, match="KG_ENABLED"):
        env_config([Options, Mode], {"KG_PORT": "1", "KG_ENABLED": "yes"})


def test_configured_objects_take_the_env_values() -> None:
    config = env_config([Options], {"KG_PORT": "9002", "KG_TOKEN": "t", "KG_LIMIT": "3"})
    options = Options(config=config)
    assert (options.port, options.token, options.limit, options.untagged) == (9002, "t", 3, 1)


def test_unset_in_keeps_only_what_file_and_command_line_leave_unset() -> None:
    env = env_config(
        [Options, Mode], {"KG_PORT": "1", "KG_TOKEN": "env", "KG_NAMES": "A", "KG_ENABLED": "1"}
    )
    loaded = Config({"Options": {"port": 2, "limit": 5}, "Other": {"x": 1}})
    assert unset_in(env, loaded) == {
        "Options": {"token": "env", "names": ["A"]},
        "Mode": {"enabled": True},
    }


def test_unset_in_is_empty_when_everything_is_set_elsewhere() -> None:
    env = env_config([Options], {"KG_PORT": "1"})
    assert unset_in(env, Config({"Options": {"port": 3}})) == {}
