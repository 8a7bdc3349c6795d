"""The kiosk's fonts for Kivy: the hall's simplified-Chinese faces (hall.fonts), regular and bold."""

from __future__ import annotations


def register_default_font() -> tuple[str, str]:
    """Make the kiosk font Kivy's default, so every label renders Chinese."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    from hall.fonts import cjk_font_pair

    regular, bold = cjk_font_pair()
    LabelBase.register(DEFAULT_FONT, regular, fn_bold=bold)
    return regular, bold
