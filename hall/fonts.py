"""Finding a simplified-Chinese font: every screen, ticket render and report image needs one, none is assumed.

Set-up (`./hallkit`) installs fonts-noto-cjk when missing; a hall may point HALL_CJK_FONT at its own file.
Noto Sans CJK comes as a collection (.ttc) whose first face is Japanese, and Kivy's text provider always opens the
first face, so 号 到 窗 门 税 would take Japanese glyph forms. The simplified-Chinese face is therefore copied out
once (fontTools) into a single-face file in a cache folder, and that file is what every part of the hall uses.
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
SIMPLIFIED = (" SC", "Micro Hei", "Zen Hei", "AR PL UMing CN", "WenQuanYi")


class FontMissing(RuntimeError):
    pass


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hallkit" / "fonts"


def _fc_match(pattern: str) -> str | None:
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out if out and Path(out).exists() and ("CJK" in out or "wqy" in out or "uming" in out) else None


def find_cjk_font(bold: bool = False) -> str:
    """Path of an installed font file (perhaps a collection) that has simplified Chinese."""
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


def simplified_face(path: str, cache: Path | None = None) -> str:
    """A single-face font file with the simplified-Chinese face of `path` (returned as is when it needs no copy)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return path
    from fontTools.ttLib import TTCollection

    st = Path(path).stat()
    out = (cache or cache_dir()) / f"{Path(path).stem}-SC-{st.st_size}-{int(st.st_mtime)}.otf"
    if out.exists():
        return str(out)
    faces = TTCollection(path, lazy=True).fonts
    families = [f["name"].getDebugName(1) or "" for f in faces]
    if any(mark in families[0] for mark in SIMPLIFIED):
        return path
    chosen = next((i for i, fam in enumerate(families) if fam.endswith(" SC")), None)
    if chosen is None:
        return path
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    faces[chosen].save(str(tmp))
    tmp.replace(out)
    return str(out)


@cache
def cjk_font(bold: bool = False) -> str:
    """A font file whose first (only) face renders simplified Chinese: for Kivy, Pillow and reports alike."""
    return simplified_face(find_cjk_font(bold))


def cjk_font_pair() -> tuple[str, str]:
    """(regular, bold) simplified-Chinese font files, for Kivy's font registration."""
    regular = cjk_font()
    try:
        bold = cjk_font(bold=True)
    except Exception:  # a hall font without a bold weight: Kivy fakes bold from the regular face
        bold = regular
    return regular, bold
