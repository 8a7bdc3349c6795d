"""`hall display` and `hall voice`: the command line over the board and the voice."""

from __future__ import annotations

import wave

import pytest

from display.voice import CLIP_IDS, espeak_available
from hallctl.cli import main


def test_voice_build_shows_progress_and_keeps_what_it_made(tmp_path, capsys):
    if not espeak_available():
        pytest.skip("espeak-ng is not installed")
    out = tmp_path / "clips"
    assert main(["voice", "build", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"[ 1/{len(CLIP_IDS)}] chime" in err and "请: " in err and f"[{len(CLIP_IDS)}/{len(CLIP_IDS)}]" in err
    assert sorted(p.stem for p in out.glob("*.wav")) == sorted(CLIP_IDS)
    assert main(["voice", "build", "--out", str(out)]) == 0
    assert "kept" in capsys.readouterr().err


def test_voice_say_a_call_from_clips_into_a_file(voice_clips, tmp_path, capsys):
    wav = tmp_path / "call.wav"
    folder = voice_clips.folders[0]
    assert main(["voice", "say", "请 A012 号到 3 号窗口办理", "--clips", str(folder), "--out", str(wav)]) == 0
    with wave.open(str(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 4 < seconds < 15


def test_voice_say_without_a_sound_card_says_how_to_get_the_wav(monkeypatch, capsys, tmp_path):
    from display import voice

    monkeypatch.setattr(voice, "_succeeds", lambda argv: None)
    assert main(["voice", "say", "你好", "--data", str(tmp_path)]) == 1
    assert "--out FILE" in capsys.readouterr().err


def test_display_refuses_a_device_that_is_not_a_display(capsys, tmp_path):
    assert main(["display", "--device", "kiosk-01", "--data", str(tmp_path)]) == 2
    assert "not a display" in capsys.readouterr().err
    assert main(["display", "--device", "nobody", "--data", str(tmp_path)]) == 2


def test_display_help_names_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["display", "--help"])
    text = capsys.readouterr().out
    for option in ("--device", "--fullscreen", "--data", "--port", "--playlist", "--no-voice"):
        assert option in text
