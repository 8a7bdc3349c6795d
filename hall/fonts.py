"""Finding a CJK font: every screen, ticket render and report image needs one, and none is assumed.

Set-up (`./hallkit`) installs fonts-noto-cjk when missing; a hall may point HALL_CJK_FONT at its own file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

KNOWN = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
]
KNOWN_BOLD = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Black.ttc",
]


class FontMissing(RuntimeError):
    pass


def _fc_match(pattern: str) -> str | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out if out and Path(out).exists() and ("CJK" in out or "wqy" in out or "uming" in out) else None


@cache
def cjk_font(bold: bool = False) -> str:
    """Path of a font file that renders simplified Chinese."""
    override = os.environ.get("HALL_CJK_FONT")
    if override and Path(override).exists():
        return override
    for path in (KNOWN_BOLD if bold else []) + KNOWN:
        if Path(path).exists():
            return path
    found = _fc_match("sans:lang=zh-cn" + (":bold" if bold else ""))
    if found:
        return found
    raise FontMissing("no CJK font found: install fonts-noto-cjk (./hallkit does) or set HALL_CJK_FONT")
