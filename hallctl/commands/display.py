"""Hall screen commands: `hall display` (the calling board) and `hall voice` (build the clips, say a text)."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from hallctl.commands import add_hall_args, hall_and_data

CALL_TEXT = re.compile(r"^\s*请\s*([A-Za-z]{1,2}\d{1,5})\s*号\s*到\s*([A-Za-z0-9]{1,8})\s*号窗口(办理)?\s*$")


def register(sub) -> None:
    p = sub.add_parser("display", help="叫号屏 open the calling board: window tiles, calls, queues, scrolling guides",
                       description="The hall's calling board (综合屏) for one display device: a tile per window "
                                   "with its ticket and status, the newest call flashing, waiting counts per "
                                   "queue and the service guides scrolling along the bottom; each call is also "
                                   "spoken. See docs/display.md.")
    add_hall_args(p)
    p.add_argument("--device", required=True, help="the display's device id in hall.toml, e.g. display-01")
    p.add_argument("--fullscreen", action="store_true",
                   help="fill the screen, hide the cursor (the hall's setting); fills it with or without a window "
                        "manager")
    p.add_argument("--size", metavar="WxH", type=parse_size,
                   help="window size when not full screen, e.g. 1920x1080 (default 1280x720)")
    p.add_argument("--position", metavar="X,Y", type=parse_position,
                   help="where the window's top left corner goes on the screen, e.g. 1080,0")
    p.add_argument("--host", help="broker host (default: what the hall's data directory records)")
    p.add_argument("--port", type=int, help="broker port (default: what the hall's data directory records)")
    p.add_argument("--playlist", metavar="FILE", help="what the band scrolls (default: config/playlist.toml)")
    p.add_argument("--no-voice", action="store_true", help="show calls without speaking them")
    p.set_defaults(func=cmd_display)

    p = sub.add_parser("voice", help="叫号语音 call announcements: build the clips, say a text",
                       description="Calls are spoken as chime + 请 A012 号到 3 号窗口办理, twice, joined from short "
                                   "clips. See docs/voice.md.")
    vsub = p.add_subparsers(dest="voice_command", metavar="ACTION", required=True)
    b = vsub.add_parser("build", help="make the clip set once with espeak-ng (progress shown)")
    add_hall_args(b)
    b.add_argument("--out", metavar="DIR", type=Path, help="where the clips go (default: DATA/voice)")
    b.add_argument("--force", action="store_true", help="make every clip again, even those already there")
    b.set_defaults(func=cmd_voice_build)

    s = vsub.add_parser("say", help="say a text: a call like '请 A012 号到 3 号窗口办理' from the clips, "
                                    "anything else with espeak-ng")
    add_hall_args(s)
    s.add_argument("text", help="what to say")
    s.add_argument("--out", metavar="FILE", type=Path, help="write the WAV here instead of playing it")
    s.add_argument("--clips", metavar="DIR", type=Path, help="clip folder (default: the hall's recordings, then "
                                                             "DATA/voice)")
    s.set_defaults(func=cmd_voice_say)


def cmd_display(args) -> int:
    import os

    from display.board import run_board

    # one log format: Kivy's own console log would print every line a second time
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    hall, data = hall_and_data(args)
    if hall.device(args.device) is None:
        print(f"hall display: device {args.device!r} is not in {hall.path}", file=sys.stderr)
        return 2
    if hall.device(args.device).kind != "display":
        print(f"hall display: {args.device!r} is a {hall.device(args.device).kind}, not a display", file=sys.stderr)
        return 2
    return run_board(hall, args.device, data, args.port, fullscreen=args.fullscreen, host=args.host,
                     playlist=args.playlist, voice=not args.no_voice, size=args.size, position=args.position)


def parse_size(text: str) -> tuple[int, int]:
    """`1920x1080` → (1920, 1080)."""
    import argparse

    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT such as 1920x1080") from None
    if not (100 <= width <= 10000 and 100 <= height <= 10000):
        raise argparse.ArgumentTypeError(f"{text!r}: each side between 100 and 10000 pixels")
    return width, height


def parse_position(text: str) -> tuple[int, int]:
    """`1080,0` → (1080, 0)."""
    import argparse

    try:
        x, y = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected X,Y such as 1080,0") from None
    return x, y


def cmd_voice_build(args) -> int:
    from display.voice import build_clips, default_clip_dir, espeak_available, print_progress

    _, data = hall_and_data(args)
    out = args.out or default_clip_dir(data)
    if not espeak_available():
        print("hall voice build: espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 1
    print(f"making call clips in {out} with espeak-ng", file=sys.stderr)
    made = build_clips(out, force=args.force, progress=print_progress)
    print(f"ok: {len(made)} clips made, {out}")
    return 0


def cmd_voice_say(args) -> int:
    from display.voice import (
        Announcement,
        ClipSet,
        SilentPlayer,
        Voice,
        default_clip_dir,
        detect_player,
        hall_clip_dir,
        write_wav,
    )

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    hall, data = hall_and_data(args)
    clips = ClipSet(args.clips) if args.clips else ClipSet(hall_clip_dir(hall), default_clip_dir(data))
    m = CALL_TEXT.match(args.text)
    item = Announcement.for_call(m.group(1).upper(), m.group(2).upper()) if m else Announcement.for_text(args.text)
    if args.out:
        voice = Voice(clips, SilentPlayer())
        write_wav(args.out, voice.frames_for(item))
        print(f"ok: {args.out}")
        return 0
    player = detect_player()
    if not player.audible:
        print("hall voice say: no audio device on this machine; use --out FILE to write the WAV", file=sys.stderr)
        return 1
    voice = Voice(clips, player).start()
    voice.announce(item)
    voice.wait_idle(120)
    voice.stop()
    return 0
