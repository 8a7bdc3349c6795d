"""The kiosk's fonts for Kivy: the hall's simplified-Chinese faces (hall.fonts), regular and bold."""

from __future__ import annotations


def kivy_fonts() -> tuple[str, str]:
    """(regular, bold) font files for Kivy, simplified Chinese faces."""
    from hall.fonts import cjk_font

    regular = cjk_font()
    try:
        bold = cjk_font(bold=True)
    except Exception:  # a hall font without a bold weight: Kivy fakes bold from the regular face
        bold = regular
    return regular, bold


def register_default_font() -> tuple[str, str]:
    """Make the kiosk font Kivy's default, so every label renders Chinese."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    regular, bold = kivy_fonts()
    LabelBase.register(DEFAULT_FONT, regular, fn_bold=bold)
    return regular, bold
