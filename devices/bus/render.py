"""Drawing LED text: a CJK line as a one-bit bitmap, the frame a screen shows at a moment, and LED-like dots.

Shared by the bus simulator (its PNGs) and the Pi-driven MAX7219 panels (devices/led/drivers.py), so a screen in a
test and a screen on the wall draw the same dots. LED panels have 16 dot rows: a font with embedded 16 px bitmaps
(WenQuanYi Zen Hei Sharp) stays crisp where an outline font turns to mush when thresholded to one bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from devices.bus.codec import Colour, Effect

ROWS = 16  # dot rows of a hall LED line
CELL = 16  # dots of one full-width (Chinese) character; Latin letters and digits take about half

# (file, face name wanted): the first face whose name contains the wanted part is used
LED_FONTS = [
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "Sharp"),  # embedded 12/16 px bitmaps
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "Micro Hei"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "SC"),  # face 0 is Japanese: pick the SC face
]

DOT_COLOURS = {
    Colour.DEFAULT: (255, 40, 20),
    Colour.RED: (255, 40, 20),
    Colour.GREEN: (40, 255, 60),
    Colour.YELLOW: (255, 190, 20),
}


def _face(path: str, wanted: str, size: int) -> ImageFont.FreeTypeFont | None:
    for index in range(8):
        try:
            font = ImageFont.truetype(path, size, index=index)
        except OSError:
            return None
        if wanted in " ".join(font.getname()):
            return font
    return None


@cache
def led_font(size: int = ROWS) -> ImageFont.FreeTypeFont:
    """A CJK font for LED dots; set-up installs fonts-wqy-zenhei, and hall.fonts finds any other CJK font."""
    for path, wanted in LED_FONTS:
        if Path(path).exists():
            font = _face(path, wanted, size)
            if font:
                return font
    from hall.fonts import cjk_font  # raises FontMissing with the install hint

    path = cjk_font()
    return _face(path, "SC", size) or ImageFont.truetype(path, size)


def text_width(text: str, font: ImageFont.FreeTypeFont | None = None) -> int:
    font = font or led_font()
    return max(1, round(font.getlength(text)))


def text_bitmap(text: str, font: ImageFont.FreeTypeFont | None = None, rows: int = ROWS) -> Image.Image:
    """One line of text as a one-bit image `rows` dots high, as wide as the text."""
    font = font or led_font(rows)
    image = Image.new("1", (text_width(text, font), rows), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # no anti-aliasing: an LED dot is on or off
    top, bottom = font.getbbox("国")[1], font.getbbox("国")[3]
    draw.text((0, (rows - (bottom - top)) // 2 - top), text, font=font, fill=1)
    return image


@dataclass(frozen=True)
class Look:
    """What a screen region shows: the text and how it moves."""
    text: str = ""
    effect: Effect = Effect.STATIC
    speed: int = 0
    colour: int = Colour.DEFAULT
    duration_s: int = 0

    def effect_after(self, elapsed: float) -> Effect:
        """A timed flash or scroll settles to static after its duration."""
        if self.duration_s and elapsed >= self.duration_s:
            return Effect.STATIC
        return Effect(self.effect)

    def scroll_dots_per_s(self) -> float:
        return 8.0 * (self.speed or 4)

    def flash_hz(self) -> float:
        return float(self.speed or 2)


def frame_at(look: Look, width: int, elapsed: float | None = None, rows: int = ROWS,
             bitmap: Image.Image | None = None) -> Image.Image:
    """The one-bit frame a `width`-dot screen shows `elapsed` seconds after the text arrived.

    elapsed None is the still a picture of the screen wants: the text from its start, flash lit. Static text
    wider than the screen scrolls anyway, as controller cards do, so nothing is ever cut off for good.
    """
    frame = Image.new("1", (width, rows), 0)
    if not look.text:
        return frame
    bitmap = bitmap or text_bitmap(look.text, rows=rows)
    effect = look.effect_after(elapsed or 0.0)
    if effect is Effect.STATIC and bitmap.width > width:
        effect = Effect.SCROLL
    if elapsed is None or effect is not Effect.SCROLL:
        if effect is Effect.FLASH and elapsed is not None and int(elapsed * look.flash_hz() * 2) % 2:
            return frame  # the dark half of a blink
        x = max(0, (width - bitmap.width) // 2)
        frame.paste(bitmap, (x, 0))
        return frame
    # scroll right to left: the text enters at the right edge and leaves at the left, then starts again
    travel = width + bitmap.width
    x = width - int(elapsed * look.scroll_dots_per_s()) % travel
    frame.paste(bitmap, (x, 0))
    return frame


def dots(frame: Image.Image, colour: int = Colour.DEFAULT, pitch: int = 5) -> Image.Image:
    """A one-bit frame drawn as LED dots on black: lit dots in the screen's colour, unlit ones faintly."""
    lit = DOT_COLOURS.get(colour, DOT_COLOURS[Colour.DEFAULT])
    unlit = tuple(max(18, c // 9) for c in lit)
    out = Image.new("RGB", (frame.width * pitch, frame.height * pitch), (0, 0, 0))
    draw = ImageDraw.Draw(out)
    pixels = frame.load()
    r = pitch - 2
    for y in range(frame.height):
        for x in range(frame.width):
            x0, y0 = x * pitch + 1, y * pitch + 1
            draw.ellipse((x0, y0, x0 + r - 1, y0 + r - 1), fill=lit if pixels[x, y] else unlit)
    return out
