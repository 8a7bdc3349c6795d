"""An X screen of a given size of a test's own (Xvfb), and what its X server says about the windows on it.

The windows are asked of the X server itself (libX11 through ctypes), not of the program that drew them: where
a window is, how large, whether it is on screen and whether it asked to go without decorations
(`_MOTIF_WM_HINTS`, what SDL sets for a borderless window). No window manager runs on such a screen, as on a
hall's screen Pi.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

IS_VIEWABLE = 2          # XWindowAttributes.map_state of a window on screen
MWM_HINTS_DECORATIONS = 2


@contextmanager
def own_screen(width: int, height: int):
    """Yields the DISPLAY (":N") of a new Xvfb screen width×height, stopped afterwards."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed (./hallkit installs it)")
    read, write = os.pipe()
    # -noreset: the server keeps its atoms when its last client leaves
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten",
                             "tcp", "-noreset"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as f:
            number = f.readline().strip()  # Xvfb writes its display number once it accepts clients
        assert number, "Xvfb did not start"
        _know_decorations(f":{number}")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass(frozen=True)
class XWindow:
    x: int
    y: int
    width: int
    height: int
    decorated: bool   # False when it asked for no decorations (borderless)


class _Attributes(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("border_width", ctypes.c_int), ("depth", ctypes.c_int), ("visual", ctypes.c_void_p),
                ("root", ctypes.c_ulong), ("class_", ctypes.c_int), ("bit_gravity", ctypes.c_int),
                ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
                ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong),
                ("map_installed", ctypes.c_int), ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
                ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
                ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p)]


def _x11():
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                               ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                               ctypes.POINTER(ctypes.c_uint)]
    x11.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_Attributes)]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XGetWindowProperty.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int, ctypes.c_ulong,
        ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p)]
    x11.XFree.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    return x11


def _know_decorations(display: str) -> None:
    """Make the atom _MOTIF_WM_HINTS known to the server, as any window manager would have: SDL sets a window's
    decorations only through an atom that exists already, so on a bare server a borderless window would not
    say so."""
    x11 = _x11()
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy, f"cannot open X display {display}"
    x11.XInternAtom(dpy, b"_MOTIF_WM_HINTS", 0)
    x11.XCloseDisplay(dpy)


def windows_on(display: str) -> list[XWindow]:
    """The top-level windows on screen, as the X server at `display` has them."""
    x11 = _x11()
    dpy = x11.XOpenDisplay(display.encode())
    assert dpy, f"cannot open X display {display}"
    try:
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
        x11.XQueryTree(dpy, x11.XDefaultRootWindow(dpy), ctypes.byref(root), ctypes.byref(parent),
                       ctypes.byref(children), ctypes.byref(count))
        ids = [children[i] for i in range(count.value)]
        if children:
            x11.XFree(children)
        hints = x11.XInternAtom(dpy, b"_MOTIF_WM_HINTS", 1)
        out = []
        for wid in ids:
            a = _Attributes()
            x11.XGetWindowAttributes(dpy, wid, ctypes.byref(a))
            if a.map_state != IS_VIEWABLE:
                continue
            out.append(XWindow(a.x, a.y, a.width, a.height, _decorated(x11, dpy, wid, hints)))
        return out
    finally:
        x11.XCloseDisplay(dpy)


def _decorated(x11, dpy, wid: int, hints: int) -> bool:
    kind, fmt, n, after = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
    data = ctypes.c_void_p()
    x11.XGetWindowProperty(dpy, wid, hints, 0, 5, 0, hints, ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(n),
                           ctypes.byref(after), ctypes.byref(data))
    if not data.value:
        return True
    try:
        # format 32 arrives as longs: flags, functions, decorations, input mode, status
        values = ctypes.cast(data, ctypes.POINTER(ctypes.c_long))
        if n.value < 3 or not values[0] & MWM_HINTS_DECORATIONS:
            return True
        return values[2] != 0
    finally:
        x11.XFree(data)
