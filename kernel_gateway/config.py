"""The one rule that turns a `KG_*` environment variable into a trait default.

An option declares its variable by tagging its trait: `Integer(8888).tag(config=True,
env="KG_PORT")`. `env_config` reads every tagged variable that is set, parses it with the trait
itself (so `KG_PORT=abc` fails as `--port=abc` would) and returns a traitlets `Config`. The app
loads that config *before* the config file and the command line, which gives the precedence
command line > config file > KG_* > default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from traitlets import Container, Dict, TraitError, TraitType
from traitlets.config import Config, Configurable

from .errors import StartupError


def parse_env_value(trait: TraitType, variable: str, raw: str) -> object:
    """Parse `raw` as `trait` would parse a command-line value; list traits split on commas.

    Raises StartupError naming `variable` when the value does not fit the trait.
    """
    try:
        if isinstance(trait, Container):
            items = [item.strip() for item in raw.split(",") if item.strip()]
            value = trait.from_string_list(items)
        elif isinstance(trait, Dict):
            value = trait.from_string_list([raw])
        else:
            value = trait.from_string(raw)
        return trait.validate(None, value)
    except (TraitError, ValueError, TypeError) as err:
        raise StartupError(f"Invalid value {raw!r} for {variable}: {err}") from err


def env_config(
    classes: Iterable[type[Configurable]], environ: Mapping[str, str] = os.environ
) -> Config:
    """Return the config that the `KG_*` variables set in `environ` stand for."""
    config = Config()
    for cls in classes:
        for name, trait in cls.class_own_traits(config=True).items():
            variable = trait.metadata.get("env")
            if variable and variable in environ:
                config[cls.__name__][name] = parse_env_value(trait, variable, environ[variable])
    return config
