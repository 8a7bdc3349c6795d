"""Hall screens: the Kivy calling board, voice announcements, LED window and strip screens."""
