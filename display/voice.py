"""Call announcements: chime + "请 A012 号到 3 号窗口办理", said twice, joined from short clips.

The pure part is here and tested without audio: which clips say a call (`call_clips`), the plan of an
announcement (chime, the sentence, a pause, the sentence again), joining clips into one WAV with known timing
(`render`), and the queue that keeps announcements in order and drops a repeat of the same call within 5 s
(`AnnouncementQueue`).

When calls come faster than they can be said (at opening time all 34 windows call within a minute, and the
full form takes about 12 s), the queue says each waiting call once, in a short form: "A012 到 三号窗口" (a chime
only at the start of such a run), so the last of 34 is said within two minutes instead of seven. No call is
ever dropped for being late; the only calls skipped are those whose window has called again since (the board
no longer shows them either), each with a log line and counted in `skipped`. Around it, a thin shell: `build_clips` makes the clip set once with espeak-ng's Mandarin
voice (a hall may instead drop its own recordings into a folder), `Voice` speaks one announcement after another
on a worker thread, never cutting one off, and `detect_player` finds the system's audio output (aplay), or
returns a silent player with a warning when the machine has none.

How numbers are read, as halls read them: the ticket digit by digit (A012 → A 零 一 二), the window as a
cardinal number (3 → 三, 12 → 十二, 20 → 二十, 105 → 一百零五).

Why pinyin: Debian 12's espeak-ng 1.51 misreads raw Hanzi with `-v cmn` (请 comes out as English "qing three"),
so clips and free text are given to espeak-ng as tone-numbered pinyin on its Mandarin pinyin voice
(`cmn-latn-pinyin`). Ticket letters use `-v cmn`, which reads Latin letters by their English names, as halls do.
"""

from __future__ import annotations

import array
import io
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from display.model import call_sentence

log = logging.getLogger("display.voice")

RATE = 22050          # espeak-ng's own output rate: clips need no resampling
WIDTH = 2             # 16-bit
CHANNELS = 1
DEDUP_S = 5.0         # the same call again within this many seconds is dropped
SHORT_FROM = 3        # this many announcements waiting (the next included): each call is said once, short
REPEATS = 2           # each call is said twice (in the full form)
WORD_GAP = 0.04       # silence between clips of one sentence
CHIME_GAP = 0.30      # after the chime
REPEAT_GAP = 0.80     # between the two sayings
ESPEAK_SPEED = 150    # words a minute

PINYIN_VOICE = "cmn-latn-pinyin"
LETTER_VOICE = "cmn"

DIGITS = ["ling", "yi", "er", "san", "si", "wu", "liu", "qi", "ba", "jiu"]
_DIGIT_HANZI = "零一二三四五六七八九"
_DIGIT_PINYIN = ["ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"]
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]

# clip id → (what it says, the input espeak-ng gets, the espeak voice); "chime" is synthesised
WORDS: dict[str, tuple[str, str, str]] = {
    "qing": ("请", "qing3", PINYIN_VOICE),
    "hao": ("号", "hao4", PINYIN_VOICE),
    "dao": ("到", "dao4", PINYIN_VOICE),
    "hao_chuangkou_banli": ("号窗口办理", "hao4 chuang1 kou3 ban4 li3", PINYIN_VOICE),
    "hao_chuangkou": ("号窗口", "hao4 chuang1 kou3", PINYIN_VOICE),
    "shi": ("十", "shi2", PINYIN_VOICE),
    "bai": ("百", "bai3", PINYIN_VOICE),
    **{d: (_DIGIT_HANZI[i], _DIGIT_PINYIN[i], PINYIN_VOICE) for i, d in enumerate(DIGITS)},
    **{c: (c, c, LETTER_VOICE) for c in LETTERS},
}
CHIME = "chime"
CLIP_IDS = [CHIME, *WORDS]


# ---------------------------------------------------------------- words of a call (pure)

def ticket_clips(ticket: str) -> list[str]:
    """A012 → A, 零, 一, 二: letters by name, digits one by one."""
    out = []
    for ch in ticket.upper():
        if ch.isdigit():
            out.append(DIGITS[int(ch)])
        elif ch in LETTERS:
            out.append(ch)
        else:
            raise ValueError(f"ticket {ticket!r}: cannot say {ch!r}")
    return out


def number_clips(n: int) -> list[str]:
    """A window number as a cardinal: 3 → 三, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五, 110 → 一百一十."""
    if not 0 <= n <= 999:
        raise ValueError(f"window number {n} out of range 0–999")
    if n < 10:
        return [DIGITS[n]]
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out: list[str] = []
    if hundreds:
        out += [DIGITS[hundreds], "bai"]
        if tens == 0 and ones == 0:
            return out
        if tens == 0:
            return out + ["ling", DIGITS[ones]]
        out += [DIGITS[tens], "shi"]  # 一百一十, not 一百十
    else:
        out += ([DIGITS[tens]] if tens > 1 else []) + ["shi"]  # 十二, not 一十二
    return out + ([DIGITS[ones]] if ones else [])


def window_clips(window: str) -> list[str]:
    """Window "12" → 十二; a window id with letters ("A3") is read letter by letter, digit by digit."""
    if window.isdigit():
        return number_clips(int(window))
    return ticket_clips(window)


def call_clips(ticket: str, window: str) -> list[str]:
    """请 A012 号 到 3 号窗口办理, as clip ids (without the chime)."""
    return ["qing", *ticket_clips(ticket), "hao", "dao", *window_clips(window), "hao_chuangkou_banli"]


def short_clips(ticket: str, window: str) -> list[str]:
    """A012 到 三 号窗口: the short form said under a backlog."""
    return [*ticket_clips(ticket), "dao", *window_clips(window), "hao_chuangkou"]


def clips_text(clips: Iterable[str]) -> str:
    return "".join(WORDS[c][0] for c in clips if c in WORDS)


@dataclass(frozen=True)
class Silence:
    seconds: float


Step = str | Silence


def call_plan(ticket: str, window: str, repeats: int = REPEATS) -> list[Step]:
    """chime, the sentence, a pause, the sentence again: every call and every recall."""
    sentence = call_clips(ticket, window)
    words: list[Step] = [w for c in sentence for w in (c, Silence(WORD_GAP))][:-1]
    plan: list[Step] = [CHIME, Silence(CHIME_GAP)]
    for i in range(repeats):
        if i:
            plan.append(Silence(REPEAT_GAP))
        plan += words
    return plan


def short_plan(ticket: str, window: str, chime: bool = False) -> list[Step]:
    """The short form, once, with a pause after it; the chime only before the first of a run."""
    words: list[Step] = [w for c in short_clips(ticket, window) for w in (c, Silence(WORD_GAP))][:-1]
    return [*([CHIME, Silence(CHIME_GAP)] if chime else []), *words, Silence(SHORT_GAP)]


SHORT_GAP = 0.35      # after a short call, before the next one
SHORT_TEMPO = 1.3     # a short call's words are said this much faster (same pitch)


# ---------------------------------------------------------------- the queue (pure)

@dataclass(frozen=True)
class Announcement:
    key: tuple                  # what makes two announcements "the same call"
    text: str                   # what is said, in Chinese (logs, the free-text fallback)
    plan: list[Step] | None     # clips to join; None: free text for espeak-ng
    short: bool = False         # the short form, said under a backlog

    @classmethod
    def for_call(cls, ticket: str, window: str, recall: int = 0) -> Announcement:
        return cls(("call", ticket, window, recall), call_sentence(ticket, window)[0], call_plan(ticket, window))

    @property
    def window(self) -> str | None:
        return self.key[2] if self.key[0] == "call" else None

    def shortened(self, chime: bool) -> Announcement:
        """The same call in the short form (a text has none: it is said as it is)."""
        if self.key[0] != "call":
            return self
        _, ticket, window, _ = self.key
        return Announcement(self.key, f"{ticket} 到 {window} 号窗口", short_plan(ticket, window, chime), True)

    @classmethod
    def for_text(cls, text: str) -> Announcement:
        return cls(("text", text), text, None)


class AnnouncementQueue:
    """First in, first out; the same announcement offered again within `dedup_s` seconds is dropped.

    A recall is a new announcement (its recall count is part of the key), so it is said again. Once `short_from`
    or more wait, `pop` gives each call in its short form, said once, until the queue is empty; the first of
    such a run keeps a chime.
    Nothing is dropped for being late. A waiting call whose window has called another ticket since is skipped
    (logged, counted in `skipped`): that window has moved on, and so has the board.
    """

    def __init__(self, dedup_s: float = DEDUP_S, short_from: int = SHORT_FROM):
        self.dedup_s = dedup_s
        self.short_from = short_from
        self.skipped = 0
        self.shortened = 0
        self._items: list[Announcement] = []
        self._last: dict[tuple, float] = {}
        self._in_run = False   # the last one popped was short: the next short one needs no chime

    def offer(self, item: Announcement, now: float) -> bool:
        last = self._last.get(item.key)
        if last is not None and now - last < self.dedup_s:
            return False
        self._last[item.key] = now
        for key in [k for k, t in self._last.items() if now - t >= self.dedup_s]:
            del self._last[key]
        if item.window is not None:
            stale = [i for i in self._items if i.window == item.window and i.key[1] != item.key[1]]
            for old in stale:
                self._items.remove(old)
                self.skipped += 1
                log.warning("skipped the announcement %r: window %s has called %s since", old.text, item.window,
                            item.key[1])
        self._items.append(item)
        return True

    def pop(self) -> Announcement | None:
        if not self._items:
            self._in_run = False
            return None
        backlog = len(self._items)
        item = self._items.pop(0)
        if (backlog >= self.short_from or self._in_run) and item.window is not None:  # a run ends when all is said
            item = item.shortened(chime=not self._in_run)
            self._in_run = True
            self.shortened += 1
        else:
            self._in_run = False
        return item

    def __len__(self) -> int:
        return len(self._items)


# ---------------------------------------------------------------- clips and joining

class ClipMissing(LookupError):
    pass


def chime_frames(rate: int = RATE) -> bytes:
    """Ding-dong: two decaying bell tones (E6 then C6) with a soft overtone, 16-bit mono."""
    samples = array.array("h")
    for freq, length in ((1318.5, 0.45), (1046.5, 0.75)):
        n = int(rate * length)
        for i in range(n):
            t = i / rate
            env = math.exp(-4.0 * t / length) * min(1.0, i / (0.005 * rate))
            v = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(2 * math.pi * 2 * freq * t)
            samples.append(int(12000 * env * v / 1.3))
    return samples.tobytes()


def trim_silence(frames: bytes, threshold: int = 300, keep: float = 0.01, rate: int = RATE) -> bytes:
    """Cut the silence espeak-ng puts before and after a word, keeping `keep` seconds each side."""
    samples = array.array("h", frames)
    loud = [i for i in range(len(samples)) if abs(samples[i]) > threshold]
    if not loud:
        return frames
    pad = int(keep * rate)
    start, end = max(0, loud[0] - pad), min(len(samples), loud[-1] + pad)
    return samples[start:end].tobytes()


def _read_wav(path: Path) -> bytes:
    """A clip's frames in the clip format; a recording in another format is converted with sox."""
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (RATE, WIDTH, CHANNELS):
            return w.readframes(w.getnframes())
    if not shutil.which("sox"):
        raise ClipMissing(f"{path}: not {RATE} Hz 16-bit mono, and sox is not installed to convert it")
    out = subprocess.run(["sox", str(path), "-t", "wav", "-r", str(RATE), "-b", "16", "-c", "1", "-"],
                         capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(out), "rb") as w:
        return w.readframes(w.getnframes())


class ClipSet:
    """Clips by id from folders, first folder first: a hall's own recordings, then the generated set."""

    def __init__(self, *folders: Path | str | None):
        self.folders = [Path(f) for f in folders if f]
        self._cache: dict[str, bytes] = {}

    def path(self, clip: str) -> Path | None:
        for folder in self.folders:
            p = folder / f"{clip}.wav"
            if p.exists():
                return p
        return None

    def frames(self, clip: str) -> bytes:
        if clip not in self._cache:
            p = self.path(clip)
            if p is None:
                if clip != CHIME:
                    raise ClipMissing(f"no clip {clip!r} in {', '.join(map(str, self.folders)) or 'no folder'}")
                self._cache[clip] = chime_frames()
            else:
                self._cache[clip] = _read_wav(p)
        return self._cache[clip]

    def missing(self, clips: Iterable[str]) -> list[str]:
        return [c for c in dict.fromkeys(clips) if c != CHIME and self.path(c) is None]

    def complete(self) -> bool:
        return not self.missing(CLIP_IDS)


@dataclass(frozen=True)
class Segment:
    clip: str          # a clip id, or "" for silence
    start: float       # seconds from the start of the announcement
    duration: float


def render(plan: list[Step], clips: ClipSet) -> tuple[bytes, list[Segment]]:
    """Join a plan into frames, and say where each clip sits (the timing tests and logs check)."""
    out = bytearray()
    timeline: list[Segment] = []
    for step in plan:
        start = len(out) / (RATE * WIDTH)
        if isinstance(step, Silence):
            n = int(round(step.seconds * RATE))
            out += b"\x00\x00" * n
            timeline.append(Segment("", start, n / RATE))
        else:
            frames = clips.frames(step)
            out += frames
            timeline.append(Segment(step, start, len(frames) / (RATE * WIDTH)))
    return bytes(out), timeline


def faster(frames: bytes, tempo: float) -> bytes:
    """The same words `tempo` times as fast, at the same pitch (sox's tempo effect); unchanged without sox."""
    if tempo == 1 or not frames:
        return frames
    if not shutil.which("sox"):
        log.warning("sox is not installed: short calls are said at their normal pace")
        return frames
    src = io.BytesIO()
    with wave.open(src, "wb") as w:
        w.setnchannels(CHANNELS)
        w.setsampwidth(WIDTH)
        w.setframerate(RATE)
        w.writeframes(frames)
    out = subprocess.run(["sox", "-t", "wav", "-", "-t", "wav", "-", "tempo", "-s", str(tempo)],
                         input=src.getvalue(), capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(out), "rb") as w:
        return w.readframes(w.getnframes())


def announcement_frames(item: Announcement, clips: ClipSet) -> bytes:
    """What is played for an announcement with a plan: its clips joined; a short call's words a little faster
    (the chime and the pause after it keep their length)."""
    if not item.short:
        return render(item.plan, clips)[0]
    chime = item.plan[:2] if item.plan[:1] == [CHIME] else []
    words, gap = item.plan[len(chime):-1], item.plan[-1]
    return render(chime, clips)[0] + faster(render(words, clips)[0], SHORT_TEMPO) + render([gap], clips)[0]


def seconds(frames: bytes) -> float:
    return len(frames) / (RATE * WIDTH)


def write_wav(path: Path | str, frames: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(CHANNELS)
        w.setsampwidth(WIDTH)
        w.setframerate(RATE)
        w.writeframes(frames)
    return path


def write_call_wav(path: Path | str, ticket: str, window: str, clips: ClipSet,
                   repeats: int = REPEATS) -> list[Segment]:
    """The whole announcement of a call as one WAV file; returns where each clip sits in it."""
    frames, timeline = render(call_plan(ticket, window, repeats), clips)
    write_wav(path, frames)
    return timeline


# ---------------------------------------------------------------- espeak-ng

def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_frames(text: str, voice: str, speed: int = ESPEAK_SPEED) -> bytes:
    """What espeak-ng says for this input, as frames in the clip format."""
    if not espeak_available():
        raise ClipMissing("espeak-ng is not installed")
    with tempfile.TemporaryDirectory(prefix="hall-voice-") as tmp:
        out = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text],
                       check=True, capture_output=True, timeout=60)
        return _read_wav(out)


def to_pinyin(text: str) -> str:
    """Chinese text as tone-numbered pinyin for espeak-ng's pinyin voice; digits read one by one."""
    from pypinyin import Style, lazy_pinyin

    text = "".join(_DIGIT_HANZI[int(c)] if c.isdigit() else c for c in text)
    return " ".join(p.strip() for p in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
                    if p.strip())


def text_frames(text: str) -> bytes:
    """Free text (a notice, a call whose clips are missing): chime, then espeak-ng's reading of it."""
    return chime_frames() + b"\x00\x00" * int(CHIME_GAP * RATE) + espeak_frames(to_pinyin(text), PINYIN_VOICE)


def build_clips(out_dir: Path | str, *, force: bool = False,
                progress: Callable[[int, int, str, str], None] | None = None) -> list[Path]:
    """Make the clip set with espeak-ng, once: one trimmed WAV per word, plus the chime."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    total = len(CLIP_IDS)
    for i, clip in enumerate(CLIP_IDS, 1):
        path = out_dir / f"{clip}.wav"
        said = "叮咚 (chime)" if clip == CHIME else WORDS[clip][0]
        if path.exists() and not force:
            if progress:
                progress(i, total, clip, f"{said}: kept")
            continue
        if clip == CHIME:
            frames = chime_frames()
        else:
            _, spoken, voice = WORDS[clip]
            frames = trim_silence(espeak_frames(spoken, voice))
        tmp = path.with_suffix(".tmp")
        write_wav(tmp, frames)
        os.replace(tmp, path)
        made.append(path)
        if progress:
            progress(i, total, clip, f"{said}: {len(frames) / (RATE * WIDTH):.2f} s")
    return made


# ---------------------------------------------------------------- audio output

class Player:
    name = "none"

    def play(self, path: Path) -> None:
        raise NotImplementedError

    @property
    def audible(self) -> bool:
        return True


class SilentPlayer(Player):
    """No audio device: announcements are dropped (the board still shows every call)."""

    name = "silent"

    def play(self, path: Path) -> None:
        pass

    @property
    def audible(self) -> bool:
        return False


class CommandPlayer(Player):
    """Plays a WAV file with a command (aplay, paplay, pw-play) and waits for it to finish."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.name = argv[0]

    def play(self, path: Path) -> None:
        result = subprocess.run([*self.argv, str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            log.warning("%s failed (%s): %s", self.name, result.returncode, result.stderr.strip()[:200])


def _succeeds(argv: list[str]) -> str | None:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def detect_player(device: str | None = None) -> Player:
    """The system's audio output, or a silent player (with a warning) when the machine has none.

    `device` (or HALL_AUDIO_DEVICE) is an ALSA device name for aplay -D, e.g. "plughw:1,0".
    """
    device = device or os.environ.get("HALL_AUDIO_DEVICE")
    if shutil.which("aplay"):
        cards = _succeeds(["aplay", "-l"])
        if cards and "card " in cards:
            return CommandPlayer(["aplay", "-q", *(["-D", device] if device else [])])
    for tool in ("pw-play", "paplay"):
        if shutil.which(tool) and shutil.which("pactl") and _succeeds(["pactl", "info"]):
            return CommandPlayer([tool])
    log.warning("no audio device found (aplay -l lists no sound card): call announcements are silent")
    return SilentPlayer()


# ---------------------------------------------------------------- the announcer

class Voice:
    """Speaks announcements one after another on its own thread; none is cut off by the next.

    `announce_call` and `say` may be called from any thread and return at once.
    """

    def __init__(self, clips: ClipSet, player: Player | None = None, *, dedup_s: float = DEDUP_S,
                 clock: Callable[[], float] = time.monotonic, work_dir: Path | str | None = None):
        self.clips = clips
        self.player = player if player is not None else detect_player()
        self.queue = AnnouncementQueue(dedup_s)
        self.clock = clock
        self.spoken: list[Announcement] = []  # the last few, for health and tests
        self._work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="hall-voice-"))
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None

    @property
    def audible(self) -> bool:
        return self.player.audible

    def start(self) -> Voice:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is being said (never cut off), drop the rest, end the thread."""
        with self._lock:
            self._stop = True
            self._wake.notify_all()
        if self._thread:
            self._thread.join(timeout)

    def announce_call(self, ticket: str, window: str, recall: int = 0) -> bool:
        """Queue a call; False when it repeats the same call within the dedup time or the machine is silent."""
        try:
            item = Announcement.for_call(ticket, window, recall)
        except ValueError as err:
            log.warning("cannot announce %s at window %s: %s", ticket, window, err)
            return False
        return self.announce(item)

    def say(self, text: str) -> bool:
        return self.announce(Announcement.for_text(text))

    def announce(self, item: Announcement) -> bool:
        """Queue any announcement; False when it is a repeat within the dedup time or the machine is silent."""
        if not self.audible:
            return False
        with self._lock:
            accepted = self.queue.offer(item, self.clock())
            if accepted:
                self._wake.notify_all()
        return accepted

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until everything queued has been said (tests, `hall voice say`)."""
        end = time.monotonic() + timeout
        with self._lock:
            while len(self.queue) or self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def frames_for(self, item: Announcement) -> bytes:
        if item.plan is not None:
            missing = self.clips.missing(s for s in item.plan if isinstance(s, str))
            if not missing:
                return announcement_frames(item, self.clips)
            log.warning("clips %s missing (run `hall voice build`): reading the call with espeak-ng", missing)
        return text_frames(item.text)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not len(self.queue) and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                item = self.queue.pop()
                self._busy = True
            try:
                path = write_wav(self._work / "announcement.wav", self.frames_for(item))
                self.player.play(path)
                self.spoken = [*self.spoken[-19:], item]
            except Exception:
                log.exception("announcement %r failed", item.text)
            finally:
                with self._lock:
                    self._busy = False
                    self._wake.notify_all()


def default_clip_dir(data_dir: Path | str) -> Path:
    """Where `hall voice build` puts the generated clips of a hall's data directory."""
    return Path(data_dir) / "voice"


def hall_clip_dir(hall) -> Path:
    """A hall's own recordings, if it has any: `voice/` beside hall.toml, one `<clip id>.wav` each."""
    return hall.relative("voice")


def print_progress(i: int, total: int, clip: str, note: str) -> None:
    print(f"[{i:>2}/{total}] {clip:<20} {note}", file=sys.stderr, flush=True)
