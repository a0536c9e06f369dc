"""The one rule that turns a `KG_*` environment variable into a trait default.

An option declares its variable by tagging its trait: `Integer(8888).tag(config=True,
env="KG_PORT")`. `env_config` reads every tagged variable that is set, parses it with the trait
itself (so `KG_PORT=abc` fails as `--port=abc` would) and returns a traitlets `Config`. Once the
command line and config file are loaded, the app adds the part of it that `unset_in` keeps, which
gives the precedence command line > config file > KG_* > default. (Loading it *before* them
would not do: JupyterApp re-applies everything loaded before the config file as if it had come
from the command line.)

Values are taken as the process received them: a string option gets the variable's text
verbatim (no `~` expansion, no quote stripping: a token may start with `~` or contain quotes),
list options split on commas, booleans accept true/false/1/0 in any case, and an empty value
unsets an option that may be None (`KG_MAX_KERNELS=` means no limit).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any, cast

from traitlets import Bool, Container, Dict, Float, HasTraits, TraitError, TraitType, Unicode
from traitlets.config import Config, Configurable

from .errors import StartupError


class Seconds(Float):
    """A duration option: a finite number of seconds, 0 or more."""

    def __init__(self, default_value: float, **kwargs: Any) -> None:
        super().__init__(default_value, min=0.0, **kwargs)

    def validate(self, obj: Any, value: Any) -> float:
        seconds = float(super().validate(obj, value))
        if not math.isfinite(seconds):
            self.error(obj, value, info="a finite number of seconds")
        return seconds


def convert(trait: TraitType, raw: str) -> object:
    """The value `raw` stands for, before the trait validates it."""
    if trait.allow_none and raw.strip() in ("", "None"):
        return None
    if isinstance(trait, Container):
        return trait.from_string_list([item.strip() for item in raw.split(",") if item.strip()])
    if isinstance(trait, Dict):
        return trait.from_string_list([item for item in raw.split(",") if item.strip()])
    if isinstance(trait, Unicode):
        return raw
    return trait.from_string(raw.strip())


def expected(trait: TraitType) -> str:
    """What a value of `trait` looks like, for error messages."""
    if isinstance(trait, Bool):
        return "true, false, 1 or 0"
    if isinstance(trait, Seconds):
        return "a finite number of seconds, 0 or more"
    low, high = getattr(trait, "min", None), getattr(trait, "max", None)
    if high is not None and math.isinf(high):
        high = None
    if low is not None and math.isinf(low):
        low = None
    if low is not None and high is not None:
        return f"{trait.info()} from {low:g} to {high:g}"
    if low is not None:
        return f"{trait.info()} of {low:g} or more"
    return trait.info()


def parse_env_value(trait: TraitType, variable: str, raw: str) -> object:
    """Parse `raw` as `trait` would parse a command-line value; list traits split on commas.

    Raises StartupError naming `variable` when the value does not fit the trait.
    """
    try:
        value = convert(trait, raw)
        return value if value is None else cast(Any, trait).validate(HasTraits(), value)
    except (TraitError, ValueError, TypeError, SyntaxError) as err:
        raise StartupError(
            f"Invalid value {raw!r} for environment variable {variable}: expected {expected(trait)}"
        ) from err


def class_options(cls: type[HasTraits]) -> dict[str, TraitType]:
    """The config traits of `cls`'s own section: those it declares, and those of its option
    mixins (HasTraits but not Configurable, like the app's ServerOptions); a Configurable
    base's traits belong to that base's section."""
    return {
        name: trait
        for name, trait in cls.class_traits(config=True).items()
        if trait.this_class is cls
        or (trait.this_class is not None and not issubclass(trait.this_class, Configurable))
    }


def section_help(cls: type[HasTraits], text: str, base: str) -> str:
    """traitlets' help `text` of `cls`, headed `Cls(base) options`: its option mixins are
    not sections of their own, so the header doesn't name them."""
    lines = text.split("\n")
    header = f"{cls.__name__}({base}) options"
    lines[:2] = [header, "-" * len(header)]
    return "\n".join(lines)


def env_config(
    classes: Iterable[type[Configurable]], environ: Mapping[str, str] = os.environ
) -> Config:
    """Return the config that the `KG_*` variables set in `environ` stand for."""
    config = Config()
    for cls in classes:
        for name, trait in class_options(cls).items():
            variable = trait.metadata.get("env")
            if variable and variable in environ:
                config[cls.__name__][name] = parse_env_value(trait, variable, environ[variable])
    return config


def unset_in(env: Config, loaded: Config) -> Config:
    """The entries of `env` for options that `loaded` (config file, command line) leaves unset."""
    config = Config()
    for section, values in env.items():
        already = loaded.get(section, {})
        for name, value in values.items():
            if name not in already:
                config[section][name] = value
    return config


class OnceEach(logging.Filter):
    """Lets each distinct message through once: traitlets repeats its warning about an
    unknown option every time the config is updated (command line, file, KG_* variables)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True
