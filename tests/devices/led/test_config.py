"""config/led.toml: the Miluo layout, and errors that name the file, the screen and the key."""

import pytest

from devices.led.config import load_led_config
from hall.errors import ConfigError
from hall.settings import load_hall


@pytest.fixture(scope="module")
def hall():
    return load_hall()


def test_the_miluo_layout(hall):
    config = load_led_config(None, hall)
    windows = [s for s in config.screens if s.kind == "window"]
    strips = [s for s in config.screens if s.kind == "strip"]
    assert len(windows) == 34 and len(strips) == 2
    assert sorted(s.window for s in windows) == sorted(w.id for w in hall.catalogue.windows)
    assert all(s.address == int(s.window) for s in windows)
    assert [s.address for s in strips] == [101, 102]
    assert {s.encoding for s in config.screens} == {"gb18030", "utf-8"}
    assert config.text.idle == "欢迎光临" and config.text.paused == "暂停服务"


def write(tmp_path, text):
    path = tmp_path / "led.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("screens, message", [
    ('{ address = 1, kind = "window", window = "1", encoding = "big5" }', "screens[0].encoding: got 'big5'"),
    ('{ address = 1, kind = "window" }', "a window screen names its window"),
    ('{ address = 300, kind = "strip" }', "screens[0].address: got 300"),
    ('{ address = 1, kind = "window", window = "99" }', "screens[0](address=1).window: unknown window '99'"),
    ('{ address = 1, kind = "window", window = "1" }, { address = 1, kind = "strip" }',
     "screens[1](address=1): bus address already used by screens[0]"),
    ('{ address = 1, kind = "window", window = "1", widht = 8 }', "did you mean 'width'"),
])
def test_errors_name_the_screen_and_key(tmp_path, hall, screens, message):
    path = write(tmp_path, f"screens = [{screens}]\n")
    with pytest.raises(ConfigError) as err:
        load_led_config(path, hall)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_a_bad_call_template(tmp_path, hall):
    path = write(tmp_path, 'screens = []\n[text]\ncall = "{number} 号"\n')
    with pytest.raises(ConfigError, match=r"text.call: .*\{ticket\} and \{window\}"):
        load_led_config(path, hall)


def test_encodings_are_normalised(tmp_path, hall):
    path = write(tmp_path, 'screens = [{ address = 1, kind = "window", window = "1", encoding = "GBK" }]\n')
    assert load_led_config(path, hall).screens[0].encoding == "gb18030"
