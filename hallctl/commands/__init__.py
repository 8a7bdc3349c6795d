"""The `hall` sub-commands, one module per part, each with `register(subparsers)`; the options they share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def default_data_dir() -> Path:
    return Path(os.environ.get("HALL_DATA", "var"))


def add_hall_args(p: argparse.ArgumentParser, data: bool = True) -> None:
    """The options every command that touches a running hall shares."""
    p.add_argument("--config", metavar="FILE", help="hall.toml (default: the shipped Miluo hall)")
    if data:
        p.add_argument("--data", metavar="DIR", type=Path, default=None,
                       help="data directory (default ./var or $HALL_DATA)")


def hall_and_data(args) -> tuple:
    from hall.settings import load_hall

    hall = load_hall(getattr(args, "config", None))
    data = getattr(args, "data", None) or default_data_dir()
    return hall, Path(data)


def simulate_scenario(args, scenarios, line) -> int:
    """`hall queue|cases simulate FILE`: the scenario file read and run by `scenarios` (a module with
    parse_scenario and run_scenario) on the hall of --config; the result as JSON with --json, else one line a step,
    `line(n, step, entry)`."""
    import json

    from hall.settings import load_hall

    scenario = scenarios.parse_scenario(read_json_file(args.file), str(args.file))
    result = scenarios.run_scenario(scenario, lambda: load_hall(args.config))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for n, (step, entry) in enumerate(zip(scenario.steps, result["steps"], strict=True), start=1):
        print(line(n, step, entry))
    return 0


def read_json_file(path: Path):
    """A scenario or other JSON file given on the command line; a clean ConfigError naming the file and place."""
    import json

    from hall.errors import ConfigError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except json.JSONDecodeError as err:
        raise ConfigError(path, [f"line {err.lineno} column {err.colno}: not valid JSON ({err.msg})"]) from None

