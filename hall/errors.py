"""Errors that name exactly what was wrong, for people editing config files."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import get_args, get_origin

from pydantic import BaseModel, ValidationError


class ConfigError(ValueError):
    """A config file is wrong: names the file, the key, the bad value and what was expected."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{self.path}: " + "; ".join(problems))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.path}: {self.problems[0]}"
        return f"{self.path}:\n" + "\n".join(f"  - {p}" for p in self.problems)


def _loc(loc: tuple, data: object) -> str:
    """Dotted key path; list positions are shown as the item's id when it has one."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "id" in node:
                    label = f"[{item}](id={node['id']!r})"
            else:
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _fields_at(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    """The keys a model accepts at a path, to suggest the one a typo meant."""
    node: object = model
    for item in loc:
        while True:  # unwrap list[X], X | None
            args = [a for a in get_args(node) if a is not type(None)]
            if get_origin(node) is None or not args:
                break
            node = args[0]
        if isinstance(item, int):
            continue
        if isinstance(node, type) and issubclass(node, BaseModel) and item in node.model_fields:
            node = node.model_fields[item].annotation
        else:
            return []
    while get_origin(node) is not None and get_args(node):
        node = [a for a in get_args(node) if a is not type(None)][0]
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def describe_validation(err: ValidationError, data: object, model: type[BaseModel] | None = None) -> list[str]:
    """Turn a pydantic error into lines of 'key: got X, expected Y'."""
    problems = []
    for e in err.errors():
        key = _loc(tuple(e["loc"]), data)
        if e["type"] == "extra_forbidden":
            name = str(e["loc"][-1])
            hint = ""
            choices = _fields_at(model, tuple(e["loc"][:-1]))
            close = difflib.get_close_matches(name, choices, n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
            problems.append(f"{key}: unknown key{hint}")
            continue
        got = e.get("input")
        shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if e["type"] == "missing":
            problems.append(f"{key}: missing, expected {e['msg'].lower()}")
        else:
            problems.append(f"{key}: got {shown}, expected {e['msg'].lower().removeprefix('value error, ')}")
    return problems


def load_toml(path: Path | str) -> dict:
    """Read a TOML config file; every way it can fail names the file (and the line, for bad TOML)."""
    import tomllib

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, ["not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, [f"not valid TOML: {err}"]) from None
