"""Typed configs from YAML-like dicts, for any tree of dataclasses: recursive merge, dotted
``key=value`` overrides, key checking, type coercion with errors that name the key and where it
was set. Knows nothing of mans' own schema (:mod:`mans.engine.config`)."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Callable

import yaml

from ..errors import ConfigError


def merge(into: dict, new: dict) -> None:
    """Recursive dict merge in place: dicts merge, other values replace."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form section.key=value")
    key, text = item.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: value is not valid YAML ({e})") from None
    return key, value


def set_dotted(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(d.get(p), dict):
            d[p] = {}
        d = d[p]
    d[parts[-1]] = value


def schema_keys(cls: type, prefix: str = "") -> dict[str, type]:
    """{dotted key: type} of every field, sections included."""
    out: dict[str, type] = {}
    for name, typ in typing.get_type_hints(cls).items():
        out[prefix + name] = typ
        if dataclasses.is_dataclass(typ):
            out.update(schema_keys(typ, prefix + name + "."))
    return out


def check_keys(d: dict, cls: type, source: str, suggest: Callable[[str], str] = lambda k: "",
               prefix: str = "") -> None:
    """Raise ConfigError for the first key of ``d`` that ``cls`` (recursively) does not define."""
    hints = typing.get_type_hints(cls)
    for k, v in d.items():
        key = f"{prefix}{k}"
        if k not in hints:
            raise ConfigError(f"{source}: unknown config key {key!r}{suggest(key)}")
        if dataclasses.is_dataclass(hints[k]) and isinstance(v, dict):
            check_keys(v, hints[k], source, suggest, key + ".")


def build(cls: type, d: Any, *, prefix: str, sources: dict[str, str], default_source: str):
    """Instantiate dataclass ``cls`` from dict ``d``, coercing and type-checking each value."""
    where = sources.get(prefix.rstrip("."), default_source)
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: config key {prefix.rstrip('.')!r} must be a mapping, got "
                          f"{d!r}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, typ in hints.items():
        if name not in d:
            continue
        key = prefix + name
        if dataclasses.is_dataclass(typ):
            kwargs[name] = build(typ, d[name], prefix=key + ".", sources=sources,
                                  default_source=default_source)
        else:
            kwargs[name] = coerce(d[name], typ, key, sources.get(key, default_source))
    return cls(**kwargs)


def coerce(value: Any, typ: Any, key: str, where: str) -> Any:
    """``value`` as type ``typ`` (int, float, bool, str, Optional[...], tuple[...]), or
    ConfigError naming ``key`` and ``where`` it was set."""
    origin, args = typing.get_origin(typ), typing.get_args(typ)

    def fail(expected: str):
        raise ConfigError(f"{where}: config key {key!r} must be {expected}; got {value!r}")

    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)][0]
        return coerce(value, inner, key, where)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]
        if not isinstance(value, (list, tuple)) or not value:
            fail("a non-empty list")
        return tuple(coerce(v, args[0], key, where) for v in value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            fail(f"a list of {len(args)} numbers")
        return tuple(coerce(v, a, key, where) for v, a in zip(value, args))
    if typ is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        return value
    if typ is float:
        # PyYAML reads "1e-4" (no dot) as a string: accept any numeric text.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                fail("a number")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            fail("a string")
        return value
    raise TypeError(f"unsupported config type {typ!r} for {key}")  # a bug in the schema


class BadValue(ConfigError):
    """A config value outside its range or choices, raised by a schema's checks before it is
    known where the value was set; ``keys``: the dotted keys involved. :func:`name_sources`
    turns it into a :class:`ConfigError` that starts with the file or ``--set`` that set them."""

    def __init__(self, keys: str | tuple[str, ...], message: str):
        self.keys = (keys,) if isinstance(keys, str) else tuple(keys)
        super().__init__(message)


def name_sources(check: Callable[[], None], sources: dict[str, str], default_source: str
                 ) -> None:
    """Run ``check``; a :class:`BadValue` it raises comes out as ``"WHERE: message"``, WHERE
    being where its keys were set (``sources``: {dotted key: file or ``--set ...``}, as the
    loaders record them; ``default_source`` for keys set nowhere, i.e. defaults)."""
    try:
        check()
    except BadValue as e:
        where = list(dict.fromkeys(sources[k] for k in e.keys if k in sources))
        raise ConfigError(f"{', '.join(where) or default_source}: {e}") from None


def choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        near = difflib.get_close_matches(value, choices, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise BadValue(key, f"config key {key!r} must be one of {', '.join(choices)}; "
                            f"got {value!r}{hint}")


def get(cfg: Any, key: str) -> Any:
    obj: Any = cfg
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of the leaves of a nested dict."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def plain(obj: Any) -> Any:
    """Tuples -> lists, recursively (YAML and weights_only-safe)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
