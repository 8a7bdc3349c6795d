"""Draw a decoded ticket as the paper would look: 80 mm thermal paper, 576 dots wide, 24-dot characters."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from devices.printer.decode import Barcode, Feed, Graphic, Line, QRCode, Ticket

DOTS = 576          # printable width of 80 mm paper at 203 dpi
CHAR = 24           # font A: 12 × 24 dots per half-width character, 24 × 24 per hanzi
LINE = 32           # default line feed in dots
MARGIN = 24         # paper beyond the printable area, left and right


@cache
def face(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The hall's CJK font at a size; in a font collection, the simplified Chinese face."""
    from hall.fonts import cjk_font

    path = cjk_font(bold)
    if path.endswith((".ttc", ".otc")):
        for index in range(8):
            try:
                font = ImageFont.truetype(path, size, index=index)
            except OSError:
                break
            family = font.getname()[0]
            if family.endswith(" SC") or "Micro Hei" in family or "Zen Hei" in family:
                return font
    return ImageFont.truetype(path, size)


def _qr_image(item: QRCode) -> Image.Image:
    import qrcode

    ec = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
          "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}[item.ec]
    code = qrcode.QRCode(box_size=max(item.module, 1), border=1, error_correction=ec)
    code.add_data(item.data)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def _x(align: str, width: int) -> int:
    if align == "center":
        return max((DOTS - width) // 2, 0)
    if align == "right":
        return max(DOTS - width, 0)
    return 0


def _cell(ch: str, style) -> Image.Image:
    """One character as the printer draws it: a 12 × 24 (half-width) or 24 × 24 (hanzi) cell, scaled."""
    wide = unicodedata.east_asian_width(ch) in "WF"
    base_w = CHAR if wide else CHAR // 2
    hm, wm = style.height, style.width
    w, h = base_w * hm, CHAR * hm           # drawn at the height's scale, then stretched to the width's
    img = Image.new("L", (w, h), 255)
    if not ch.isspace():
        font = face((CHAR - 2 if wide else CHAR - 4) * hm, style.bold)
        glyph_w = font.getlength(ch)
        if glyph_w > w:  # proportional Latin wider than a printer cell: squeeze it in
            big = Image.new("L", (int(glyph_w) + 2, h), 255)
            ImageDraw.Draw(big).text((big.width / 2, h / 2), ch, font=font, fill=0, anchor="mm")
            img = big.resize((w, h))
        else:
            ImageDraw.Draw(img).text((w / 2, h / 2), ch, font=font, fill=0, anchor="mm")
    if wm != hm:
        img = img.resize((base_w * wm, h))
    if style.underline:
        ImageDraw.Draw(img).line([(0, h - 2), (img.width, h - 2)], fill=0, width=style.underline)
    if style.invert:
        img = Image.eval(img, lambda v: 255 - v)
    return img


def _line_image(line: Line) -> Image.Image:
    cells = [_cell(ch, run.style) for run in line.runs for ch in run.text]
    height = max([LINE, *(c.height + 8 for c in cells)])
    out = Image.new("L", (DOTS, height), 255)
    x = _x(line.align, sum(c.width for c in cells))
    for c in cells:
        if x + c.width > DOTS:  # the printer wraps; a layout that needs this is wrong, so show it cut
            break
        out.paste(c, (x, height - c.height - 4))
        x += c.width
    return out


def render_ticket(ticket: Ticket, path: Path | str | None = None) -> Image.Image:
    """The ticket as an image (and saved as PNG when a path is given)."""
    blocks: list[Image.Image] = []
    for item in ticket.items:
        if isinstance(item, Line):
            blocks.append(_line_image(item))
        elif isinstance(item, QRCode):
            qr = _qr_image(item)
            block = Image.new("L", (DOTS, qr.height + 8), 255)
            block.paste(qr, (_x(item.align, qr.width), 4))
            blocks.append(block)
        elif isinstance(item, Feed):
            blocks.append(Image.new("L", (DOTS, item.lines * LINE + item.dots), 255))
        elif isinstance(item, Barcode | Graphic):
            label = f"[{getattr(item, 'kind', 'barcode')}]"
            block = Image.new("L", (DOTS, LINE), 255)
            ImageDraw.Draw(block).text((0, 4), label, font=face(CHAR), fill=128)
            blocks.append(block)
    height = sum(b.height for b in blocks) + 2 * MARGIN
    paper = Image.new("RGB", (DOTS + 2 * MARGIN, height), (255, 255, 255))
    y = MARGIN
    for b in blocks:
        paper.paste(Image.merge("RGB", (b, b, b)), (MARGIN, y))
        y += b.height
    d = ImageDraw.Draw(paper)
    d.rectangle([0, 0, paper.width - 1, paper.height - 1], outline=(200, 200, 200))
    for x in range(0, paper.width, 12):  # the cut
        d.line([(x, paper.height - 1), (x + 6, paper.height - 1)], fill=(120, 120, 120))
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        paper.save(path)
    return paper
