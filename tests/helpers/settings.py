"""The strict-settings tests of hall.toml: a copy of the shipped config with one value written wrong, and the
error that must name the file, the key and what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hall.errors import ConfigError
from hall.settings import CONFIG_DIR, load_hall


@pytest.fixture
def config_copy(tmp_path) -> Path:
    """The shipped hall.toml with its catalogue and staff list beside it, in the test's own folder."""
    for name in ("hall.toml", "catalogue.json", "staff.csv"):
        shutil.copy(CONFIG_DIR / name, tmp_path / name)
    return tmp_path / "hall.toml"


def edit(path: Path, old: str, new: str) -> None:
    """The first `old` in the file written as `new`; `old` must be there, so a changed shipped file fails loudly
    rather than leaving the test to load a hall that was never broken."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refused(config: Path, old: str, new: str, expected: str) -> ConfigError:
    """`old` written as `new` in `config`: the hall does not load, and the error names `config` and says
    `expected` (the key, the value, what was expected). The error is returned for any further checks."""
    edit(config, old, new)
    with pytest.raises(ConfigError) as err:
        load_hall(config)
    assert err.value.path == str(config), str(err.value)
    assert expected in str(err.value), str(err.value)
    return err.value
