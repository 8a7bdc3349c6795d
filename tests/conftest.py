"""Shared test set-up. Fixtures live in tests/helpers/*.py and are loaded here as plugins."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.helpers.{p.stem}" for p in (Path(__file__).parent / "helpers").glob("*.py") if p.stem != "__init__"
)
