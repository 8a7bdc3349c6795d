"""A board box drawn through its own buffer (`display.widgets.Cached`) outlives a GL driver that refuses the
buffer for a moment: the board does not end, and the box gets its buffer at the next try."""

from __future__ import annotations


class RefusingOnce:
    """The real buffer, except that its first resize is refused as Mesa's software renderer once did
    ("FBO Initialization failed: Incomplete attachment")."""

    def __init__(self, fbo):
        self.real, self.refused = fbo, 0

    @property
    def size(self):
        return self.real.size

    @size.setter
    def size(self, value):
        if not self.refused:
            self.refused += 1
            self.real.size = value  # Kivy keeps the new size although the framebuffer failed
            raise Exception("FBO Initialization failed: Incomplete attachment (36054)")
        self.real.size = value

    @property
    def texture(self):
        return self.real.texture


def test_a_refused_buffer_is_made_again_and_the_board_goes_on(screen):
    from kivy.uix.label import Label

    from display.widgets import Cached, load_kv

    load_kv()
    box = Cached()
    box.add_widget(Label(text="窗口 1"))
    box.fbo = RefusingOnce(box.fbo)
    screen.show(box, size=(400, 300))  # the box takes the window's size: the resize the driver refuses
    assert box.fbo.refused == 1          # ... and no exception reached the loop
    screen.until(lambda: not box._unsized, message="the buffer made again")
    assert tuple(box.fbo.size) == (400, 300) and tuple(box.fbo_rect.size) == (400, 300)
    assert box.fbo_rect.texture is box.fbo.texture
