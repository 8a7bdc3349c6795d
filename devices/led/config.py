"""config/led.toml: which screens hang where, how the bus runs, and the texts they show.

It has a module of its own because three readers need it and nothing else of the master: `hall up` sizes the
simulated bus from it, the bus simulator builds one screen per entry, and the master drives them. A bad file is
refused with the file, the screen and the key named (hall.errors), and with a hall every window it names is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from devices.bus.codec import MAX_PAYLOAD, Colour, Encoding, ShowText
from hall.errors import ConfigError, describe_validation, load_toml

DEFAULT_LED = Path(__file__).resolve().parents[2] / "config" / "led.toml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScreenConfig(_Model):
    address: int = Field(ge=1, le=247)
    kind: Literal["window", "strip"]
    window: str | None = Field(default=None, description="the window a window screen hangs above")
    windows: list[str] = Field(default=[], description="a strip's windows, whose guides it scrolls (empty: all)")
    encoding: Literal["gb18030", "utf-8"] = "gb18030"
    width: int = Field(default=10, ge=2, le=128, description="full-width characters (16 dots each)")
    name: str = ""
    colour: Literal["red", "green", "yellow"] = "red"
    max_text_bytes: int = Field(default=MAX_PAYLOAD - ShowText.HEADER, ge=16, le=MAX_PAYLOAD - ShowText.HEADER)
    backend: Literal["bus", "max7219"] = "bus"
    spi_port: int = 0
    spi_device: int = 0
    block_orientation: Literal[0, 90, -90, 180] = -90
    rotate: Literal[0, 1, 2, 3] = 0

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding(cls, value):
        if isinstance(value, str):
            try:
                return {Encoding.UTF8: "utf-8", Encoding.GB18030: "gb18030"}[Encoding.named(value)]
            except ValueError:
                raise ValueError("'gb18030' or 'utf-8'") from None
        return value

    @model_validator(mode="after")
    def _kind_fits(self):
        if self.kind == "window" and not self.window:
            raise ValueError("a window screen names its window (window = \"3\")")
        if self.kind == "strip" and self.window:
            raise ValueError("a strip lists windows = [...], not one window")
        return self

    @property
    def wire_encoding(self) -> Encoding:
        return Encoding.named(self.encoding)

    @property
    def wire_colour(self) -> Colour:
        return Colour[self.colour.upper()]

    @property
    def label(self) -> str:
        return f"screen {self.address}"


class BusConfig(_Model):
    baudrate: int = Field(default=9600, ge=1200, le=921600)
    rs485: bool = False
    margin_ms: int = Field(default=100, ge=10, le=5000)


class TextConfig(_Model):
    call: str = "{ticket} 请到{window}号窗口"
    call_flash_s: int = Field(default=3, ge=0, le=600)
    idle: str = "欢迎光临"
    paused: str = "暂停服务"
    closed: str = "暂停服务"
    brightness: int = Field(default=80, ge=0, le=100)
    strip_speed: int = Field(default=4, ge=1, le=9)

    @field_validator("call")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            value.format(ticket="A001", window="1")
        except (KeyError, IndexError, ValueError):
            raise ValueError("a text with {ticket} and {window} and no other {…} fields") from None
        return value


class LedFile(_Model):
    screens: list[ScreenConfig]
    bus: BusConfig = BusConfig()
    text: TextConfig = TextConfig()


@dataclass(frozen=True)
class LedConfig:
    path: Path
    screens: list[ScreenConfig]
    bus: BusConfig
    text: TextConfig

    def screen(self, address: int) -> ScreenConfig | None:
        return next((s for s in self.screens if s.address == address), None)

    def of_backend(self, backend: str) -> list[ScreenConfig]:
        return [s for s in self.screens if s.backend == backend]


def load_led_config(path: Path | str | None = None, hall=None) -> LedConfig:
    """Read config/led.toml (or another file); with a hall, check every window it names exists."""
    path = Path(path) if path else DEFAULT_LED
    data = load_toml(path)
    try:
        file = LedFile.model_validate(data)
    except ValidationError as err:
        raise ConfigError(path, describe_validation(err, data, LedFile)) from None
    problems = []
    seen: dict[tuple[str, int], int] = {}
    windows = {w.id for w in hall.catalogue.windows} if hall else None
    for i, s in enumerate(file.screens):
        where = f"screens[{i}](address={s.address})"
        key = (s.backend, s.address if s.backend == "bus" else s.spi_port * 256 + s.spi_device)
        if key in seen:
            what = "bus address" if s.backend == "bus" else "SPI port and device"
            problems.append(f"{where}: {what} already used by screens[{seen[key]}]")
        seen[key] = i
        if windows is not None:
            for w in ([s.window] if s.window else []) + s.windows:
                if w not in windows:
                    problems.append(f"{where}.window: unknown window {w!r}")
    if problems:
        raise ConfigError(path, problems)
    return LedConfig(path.resolve(), file.screens, file.bus, file.text)
