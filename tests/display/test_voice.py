"""Call announcements: the words of a call, joined clips with known timing, the queue and its de-duplication."""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import pytest

from display import voice as v
from display.voice import (
    CHIME,
    CHIME_GAP,
    RATE,
    REPEAT_GAP,
    WORD_GAP,
    Announcement,
    AnnouncementQueue,
    ClipSet,
    Player,
    Silence,
    Voice,
    call_clips,
    call_plan,
    clips_text,
    number_clips,
    render,
    ticket_clips,
    window_clips,
    write_call_wav,
)
from tests.helpers.display import FakeClock

# ---------------------------------------------------------------- words

def test_a_call_is_said_as_halls_say_it():
    assert call_clips("A012", "3") == ["qing", "A", "ling", "yi", "er", "hao", "dao", "san", "hao_chuangkou_banli"]
    assert clips_text(call_clips("A012", "3")) == "请A零一二号到三号窗口办理"
    assert clips_text(call_clips("AB1005", "12")) == "请AB一零零五号到十二号窗口办理"


@pytest.mark.parametrize("n, said", [(0, "零"), (3, "三"), (10, "十"), (12, "十二"), (20, "二十"), (34, "三十四"),
                                     (100, "一百"), (105, "一百零五"), (110, "一百一十"), (999, "九百九十九")])
def test_window_numbers_are_read_as_numbers(n, said):
    assert clips_text(number_clips(n)) == said


def test_odd_ids_are_spelled_and_bad_ones_refused():
    assert clips_text(window_clips("B2")) == "B二"
    assert ticket_clips("a7") == ["A", "qi"]
    with pytest.raises(ValueError):
        ticket_clips("A-1")
    with pytest.raises(ValueError):
        number_clips(1000)


def test_plan_is_chime_then_the_sentence_twice():
    plan = call_plan("A012", "3")
    words = [s for s in plan if isinstance(s, str)]
    sentence = call_clips("A012", "3")
    assert words == [CHIME, *sentence, *sentence]
    assert plan[1] == Silence(CHIME_GAP)
    assert Silence(REPEAT_GAP) in plan
    assert plan.count(Silence(WORD_GAP)) == 2 * (len(sentence) - 1)


# ---------------------------------------------------------------- joining clips

def _tone_clips(folder: Path) -> ClipSet:
    """A clip per word, each a distinct length (10 ms per letter of its id), so order is visible in the timing."""
    folder.mkdir(parents=True, exist_ok=True)
    for clip in v.WORDS:
        v.write_wav(folder / f"{clip}.wav", b"\x10\x00" * int(RATE * 0.01 * (len(clip) + 1)))
    return ClipSet(folder)


def test_joined_wav_has_the_clips_in_order_with_their_lengths(tmp_path):
    clips = _tone_clips(tmp_path / "clips")
    timeline = write_call_wav(tmp_path / "call.wav", "A012", "12", clips)
    spoken = [s for s in timeline if s.clip]
    sentence = call_clips("A012", "12")
    assert [s.clip for s in spoken] == [CHIME, *sentence, *sentence]
    for seg in spoken[1:]:
        assert seg.duration == pytest.approx(0.01 * (len(seg.clip) + 1), abs=1 / RATE)
    for before, after in zip(timeline, timeline[1:], strict=False):  # back to back, no overlap, no hole
        assert after.start == pytest.approx(before.start + before.duration, abs=1 / RATE)
    with wave.open(str(tmp_path / "call.wav")) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (RATE, 2, 1)
        total = w.getnframes() / w.getframerate()
    assert total == pytest.approx(timeline[-1].start + timeline[-1].duration, abs=1 / RATE)


def test_espeak_clips_for_a_known_call(voice_clips, tmp_path):
    """With the clips `hall voice build` makes: order, and a duration that is the sum of its parts."""
    assert voice_clips.complete()
    timeline = write_call_wav(tmp_path / "A012-3.wav", "A012", "3", voice_clips)
    lengths = {c: len(voice_clips.frames(c)) / (2 * RATE) for c in (CHIME, *call_clips("A012", "3"))}
    spoken = [s for s in timeline if s.clip]
    assert [s.clip for s in spoken][:10] == [CHIME, *call_clips("A012", "3")]
    for seg in spoken:
        assert seg.duration == pytest.approx(lengths[seg.clip])
        assert 0.1 < seg.duration < 2.5  # trimmed words, not espeak's padded output
    gaps = CHIME_GAP + REPEAT_GAP + 2 * 8 * WORD_GAP
    expected = lengths[CHIME] + 2 * sum(lengths[c] for c in call_clips("A012", "3")) + gaps
    with wave.open(str(tmp_path / "A012-3.wav")) as w:
        assert w.getnframes() / RATE == pytest.approx(expected, abs=0.001)
    assert 4 < expected < 15


def test_a_hall_recording_overrides_a_generated_clip(voice_clips, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    # a recording in another format (44.1 kHz stereo) is converted on the way in
    with wave.open(str(own / "qing.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\x00\x01\x00\x01" * 44100)
    clips = ClipSet(own, *voice_clips.folders)
    assert clips.path("qing") == own / "qing.wav"
    assert len(clips.frames("qing")) / (2 * RATE) == pytest.approx(1.0, abs=0.01)
    assert clips.path("hao") == voice_clips.folders[0] / "hao.wav"


def test_missing_clips_are_named(tmp_path):
    clips = ClipSet(tmp_path)
    assert clips.missing(["chime", "qing", "A"]) == ["qing", "A"]  # the chime is synthesised
    with pytest.raises(v.ClipMissing, match="qing"):
        render(call_plan("A012", "3"), clips)


# ---------------------------------------------------------------- queue and de-duplication

def test_queue_keeps_order_and_drops_a_repeat_within_five_seconds():
    q = AnnouncementQueue()
    a012, b005 = Announcement.for_call("A012", "3"), Announcement.for_call("B005", "12")
    assert q.offer(a012, 100.0) and q.offer(b005, 100.1)
    assert not q.offer(Announcement.for_call("A012", "3"), 104.9)          # same call again: dropped
    assert q.offer(Announcement.for_call("A012", "3", recall=1), 101.0)     # a recall is said again
    assert q.offer(Announcement.for_call("A012", "3"), 105.0)              # 5 s later it is a new call
    assert [q.pop().key for _ in range(len(q))] == [a012.key, b005.key, ("call", "A012", "3", 1), a012.key]
    assert q.pop() is None


def test_a_backlog_is_said_once_each_in_the_short_form_and_nothing_is_dropped():
    q = AnnouncementQueue()
    windows = [str(w) for w in range(1, 35)]
    for i, window in enumerate(windows):  # opening time: 34 windows call within a second
        assert q.offer(Announcement.for_call(f"A{i + 1:03d}", window), 100.0 + i / 34)
    said = [q.pop() for _ in range(len(q))]
    assert [a.key[1] for a in said] == [f"A{i + 1:03d}" for i in range(34)]  # every call, in order
    assert q.skipped == 0 and q.pop() is None
    assert all(a.short for a in said)  # short until the backlog is said
    assert said[0].plan[0] == CHIME and all(CHIME not in a.plan for a in said[1:])  # one chime for the run
    q.offer(Announcement.for_call("B001", "3"), 200.0)
    assert not q.pop().short  # the run is over: a call alone is said in full
    assert clips_text(s for s in said[0].plan if isinstance(s, str)) == "A零零一到一号窗口"
    assert said[0].text == "A001 到 1 号窗口"


def test_a_call_whose_window_has_called_again_is_skipped_with_a_log_line(caplog):
    q = AnnouncementQueue()
    q.offer(Announcement.for_call("A001", "3"), 100.0)
    q.offer(Announcement.for_call("B001", "4"), 100.0)
    q.offer(Announcement.for_call("A001", "3", recall=1), 101.0)   # a recall of the same ticket is kept
    with caplog.at_level("WARNING", logger="display.voice"):
        q.offer(Announcement.for_call("A002", "3"), 102.0)
    assert q.skipped == 2 and "window 3 has called A002" in caplog.text
    assert [q.pop().key[1] for _ in range(len(q))] == ["B001", "A002"]


def test_short_and_full_forms_over_the_real_clips(voice_clips):
    full = v.seconds(v.announcement_frames(Announcement.for_call("A012", "12"), voice_clips))
    first = Announcement.for_call("A012", "12").shortened(chime=True)
    short = Announcement.for_call("A013", "12").shortened(chime=False)
    first_s = v.seconds(v.announcement_frames(first, voice_clips))
    short_s = v.seconds(v.announcement_frames(short, voice_clips))
    assert short_s < full / 3 and first_s > short_s + 1.0  # the run's first keeps the chime
    assert full + first_s + 32 * short_s < 120  # a burst of 34 said within two minutes


class RecordingPlayer(Player):
    """Plays nothing; records each WAV's length, and can hold a playback until the test lets it go."""

    name = "recording"

    def __init__(self):
        self.played: list[float] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def play(self, path: Path) -> None:
        with wave.open(str(path)) as w:
            length = w.getnframes() / w.getframerate()
        self.started.set()
        self.release.wait(10)
        self.played.append(length)


def test_voice_says_calls_in_order_never_cut_off(voice_clips, tmp_path):
    player, clock = RecordingPlayer(), FakeClock()
    voice = Voice(voice_clips, player, clock=clock, work_dir=tmp_path).start()
    try:
        player.release.clear()
        assert voice.announce_call("A012", "3")
        assert player.started.wait(10)                      # A012 is being said ...
        assert voice.announce_call("B005", "12")            # ... B005 waits its turn
        assert not voice.announce_call("A012", "3")         # the same call again within 5 s
        clock.advance(1)
        assert voice.announce_call("A012", "3", recall=1)   # a recall
        assert len(voice.queue) == 2 and player.played == []
        player.release.set()
        assert voice.wait_idle(30)
    finally:
        voice.stop()
    assert [a.key[1:] for a in voice.spoken] == [("A012", "3", 0), ("B005", "12", 0), ("A012", "3", 1)]
    assert len(player.played) == 3 and all(4 < s < 15 for s in player.played)


def test_voice_falls_back_to_espeak_when_a_clip_is_missing(tmp_path):
    if not v.espeak_available():
        pytest.skip("espeak-ng is not installed")
    player = RecordingPlayer()
    voice = Voice(ClipSet(tmp_path / "none"), player, work_dir=tmp_path).start()
    try:
        assert voice.announce_call("A012", "3")
        assert voice.say("请保管好随身物品")
        assert voice.wait_idle(30)
    finally:
        voice.stop()
    assert len(player.played) == 2 and all(s > 1.5 for s in player.played)


def test_free_text_goes_to_espeak_as_pinyin():
    assert v.to_pinyin("请到3号窗口") == "qing3 dao4 san1 hao4 chuang1 kou3"


def test_no_sound_card_means_silent_with_a_warning(monkeypatch, caplog):
    """This machine has no sound card (aplay -l fails); a hall without one stays silent, with a warning."""
    monkeypatch.delenv("HALL_AUDIO_DEVICE", raising=False)
    monkeypatch.setattr(v, "_succeeds", lambda argv: None)
    player = v.detect_player()
    assert isinstance(player, v.SilentPlayer) and not player.audible
    assert "no audio device" in caplog.text
    voice = Voice(ClipSet(), player)
    assert not voice.announce_call("A012", "3")


def test_a_sound_card_is_played_through_aplay(monkeypatch):
    monkeypatch.setattr(v.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(v, "_succeeds", lambda argv: "card 0: PCH [HDA Intel PCH], device 0" if argv[0] == "aplay"
                        else None)
    player = v.detect_player("plughw:1,0")
    assert isinstance(player, v.CommandPlayer) and player.argv == ["aplay", "-q", "-D", "plughw:1,0"]


def test_this_machine_is_detected_as_it_is():
    import subprocess

    has_card = v._succeeds(["aplay", "-l"]) is not None and "card " in (v._succeeds(["aplay", "-l"]) or "")
    player = v.detect_player()
    assert player.audible == (has_card or isinstance(player, v.CommandPlayer))
    if not has_card and subprocess.run(["which", "pactl"], capture_output=True).returncode:
        assert isinstance(player, v.SilentPlayer)
