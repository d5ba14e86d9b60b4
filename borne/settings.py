"""Typed settings: defaults in code, then a TOML file, then ``BORNE_*`` environment variables.

Each part declares its settings as a dataclass; :func:`load_settings` fills it and fails at once,
naming the setting, when a value is missing, unknown or of the wrong type. This is the only module
that reads the environment (callers pass ``os.environ`` in).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ImproperlyConfigured(Exception):
    """A setting is missing, unknown or invalid; the message names it."""


def load_settings(
    cls: type[T],
    *,
    toml_path: str | Path | None = None,
    section: str | None = None,
    env: Mapping[str, str] | None = None,
    env_prefix: str = "BORNE_",
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build ``cls`` from its defaults, a TOML file, environment variables, then overrides.

    ``section`` picks a table of the TOML file (``[controller]``), so one file can serve several
    parts. Environment variables are named ``{env_prefix}{FIELD}`` in upper case.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}

    if toml_path is not None:
        values.update(_read_toml(Path(toml_path), section, fields))
    for name in fields:
        raw = (env or {}).get(f"{env_prefix}{name.upper()}")
        if raw is not None:
            values[name] = _coerce(f"{env_prefix}{name.upper()}", raw, hints[name], from_text=True)
    for name, value in (overrides or {}).items():
        if name not in fields:
            raise ImproperlyConfigured(f"unknown setting {name!r}")
        values[name] = value

    for name, value in list(values.items()):
        values[name] = _coerce(name, value, hints[name], from_text=False)
    try:
        return cls(**values)
    except TypeError as exc:  # a required field without a value
        raise ImproperlyConfigured(str(exc)) from exc


def _read_toml(path: Path, section: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ImproperlyConfigured(f"configuration file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ImproperlyConfigured(f"configuration file {path} is not valid TOML: {exc}") from exc
    if section is not None:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ImproperlyConfigured(f"{path}: [{section}] must be a table")
        data = table
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"[{section}] of {path}" if section else str(path)
        raise ImproperlyConfigured(f"unknown setting(s) in {where}: {', '.join(unknown)}")
    return dict(data)


def _coerce(name: str, value: Any, hint: Any, *, from_text: bool) -> Any:
    """Check ``value`` against the annotation ``hint``; convert text from the environment."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None or (from_text and value == ""):
            return None
        return _coerce(name, value, options[0], from_text=from_text)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if from_text and str(value).lower() in {"1", "true", "yes", "on"}:
            return True
        if from_text and str(value).lower() in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfigured(f"setting {name} must be true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise ImproperlyConfigured(f"setting {name} must be a number, got {value!r}")
        if isinstance(value, int | float) and not from_text:
            return hint(value)
        try:
            return hint(value)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"setting {name} must be a number, got {value!r}") from exc
    if hint is str:
        if not isinstance(value, str):
            raise ImproperlyConfigured(f"setting {name} must be text, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str | Path):
            raise ImproperlyConfigured(f"setting {name} must be a path, got {value!r}")
        return Path(value)
    if origin is tuple:  # tuple[X, ...]: a TOML array, or comma-separated in the environment
        (item_hint, *_) = typing.get_args(hint)
        if from_text and isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, list | tuple):
            raise ImproperlyConfigured(f"setting {name} must be a list, got {value!r}")
        return tuple(_coerce(name, item, item_hint, from_text=from_text) for item in value)
    return value
