"""The screen a kiosk or a calling board fills: its size, asked of the X server, and the window that covers it.

A hall's screen Pi runs X without a window manager. There SDL's own full screen (Kivy's `fullscreen = "auto"`)
keeps the window at its first size, a clipped 800×600 corner, because nothing resizes it. What works with or
without a window manager is a borderless window exactly as large as the X screen, at its top left corner: the
board (`display.board.configure_kivy`) opens its window so, and the kiosk (`kiosk.app.KioskApp.lock_down`) turns
its open window into one. Where there is no X screen to measure (a console, Wayland alone) SDL's own full
screen is all there is.

Kivy is not imported here: the caller hands in its `Config` or its `Window`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

Size = tuple[int, int]


def screen_size() -> Size | None:
    """The X screen's size in pixels, asked of the X server itself (libX11), or None where there is none."""
    name = ctypes.util.find_library("X11")
    if not name or not os.environ.get("DISPLAY"):
        return None
    try:
        x11 = ctypes.CDLL(name)
    except OSError:
        return None
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
    x11.XDisplayWidth.argtypes = x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    if not display:
        return None
    try:
        screen = x11.XDefaultScreen(display)
        return x11.XDisplayWidth(display, screen), x11.XDisplayHeight(display, screen)
    finally:
        x11.XCloseDisplay(display)


def covering(screen: Size | None) -> dict[str, str]:
    """Kivy's `[graphics]` settings of a window that covers `screen`: borderless, its size, at (0, 0); SDL's
    own full screen when the screen could not be measured (None)."""
    if screen is None:
        return {"fullscreen": "auto"}
    width, height = screen
    return {"fullscreen": "0", "borderless": "1", "width": str(width), "height": str(height),
            "position": "custom", "left": "0", "top": "0"}


def configure_covering(config) -> Size | None:
    """Before the window opens: set Kivy's `config` (kivy.config.Config) for a window covering the X screen.
    Returns the screen's size, or None when SDL's own full screen had to do."""
    screen = screen_size()
    for key, value in covering(screen).items():
        config.set("graphics", key, value)
    return screen


def cover_screen(window, later) -> Size | None:
    """With the window open (kivy.core.window.Window): make it cover the X screen, borderless at (0, 0).
    `later(fn)` runs `fn` at the window's next turn (Kivy's `Clock.schedule_once`). Returns the screen's size,
    or None when SDL's own full screen had to do."""
    screen = screen_size()
    if screen is None:
        window.fullscreen = "auto"
        return None

    def place(*_):
        window.borderless = True
        window.size = screen
        window.left, window.top = 0, 0

    if window.fullscreen:
        # out of SDL's full screen first. Leaving it puts the window back to its first size, with its borders
        # (SDL ignores a border change while full screen), so both are set once it has left, at the next turn
        window.fullscreen = False
        later(place)
    else:
        place()
    return screen
