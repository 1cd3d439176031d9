"""Voice-over: the video's lines spoken by a TTS provider, the music ducked under the voice.

The providers are one fake server speaking both documented protocols (OpenAI speech and
ElevenLabs, tests/providers/fake_tts.py) and answering a real MP3 made here with ffmpeg: a
660 Hz tone with a syllable-rate wobble standing in for speech. Ducking is measured the way a
listener hears it: the music's level (everything but the voice's band) under the voice,
against the same moment of the original bed.
"""

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from catalog.services import product_update
from personalization.context import ShopperContext
from providers.speech import ElevenLabsSpeech, OpenAISpeech
from rendering.models import Video
from rendering.services import video_request
from rendering.voice import voice_backend, voice_bed, voice_line
from tests.support.factories import make_merchant, make_product
from tests.support.protocols.fake_tts import ELEVEN_KEY, ELEVEN_VOICE, OPENAI_KEY, FakeTTS
from tests.support.protocols.fixtures import serve
from videokit.audio import bed_for
from videokit.media import ffmpeg_exe
from videokit.mixing import LEAD_SECONDS, duck_and_mix

ROOT = Path(__file__).resolve().parent.parent.parent
RATE = 48000
VOICE_HZ = 660
VOICE_SECONDS = 2.0
LINE = "Stormline Rain Jacket. Dry in any downpour."


@pytest.fixture(scope="session")
def speech_mp3() -> bytes:
    """2 s of mono 24 kHz MP3, as tts-1 sends: a tone that swells four times a second."""
    source = (
        f"aevalsrc=0.5*sin(2*PI*{VOICE_HZ}*t)*(0.6+0.4*sin(2*PI*4*t)):s=24000:d={VOICE_SECONDS}"
    )
    done = subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", source,
            "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
    )  # fmt: skip
    return done.stdout


@pytest.fixture
def tts(speech_mp3: bytes) -> Iterator[FakeTTS]:
    yield from serve(FakeTTS(speech_mp3))


def speech_options(tts: FakeTTS, **extra: Any) -> dict[str, Any]:
    return {"base_url": tts.url, "retries": 1, "backoff": 0.01, "timeout": 5.0, **extra}


@pytest.fixture
def openai_voice(settings: Any, tts: FakeTTS) -> FakeTTS:
    settings.SCENECART_VOICE = {
        "BACKEND": "providers.speech.OpenAISpeech",
        "OPTIONS": speech_options(tts, api_key=OPENAI_KEY, voice="nova"),
    }
    return tts


@pytest.fixture
def eleven_voice(settings: Any, tts: FakeTTS) -> FakeTTS:
    settings.SCENECART_VOICE = {
        "BACKEND": "providers.speech.ElevenLabsSpeech",
        "OPTIONS": speech_options(tts, api_key=ELEVEN_KEY, voice=ELEVEN_VOICE),
    }
    return tts


@pytest.fixture
def video(db: None) -> Video:
    """A planned variant (its segments need not be rendered: the line is in their plans)."""
    merchant = make_merchant()
    product = make_product(merchant, with_image=False)
    product_update(product=product, attributes={"claim": "Dry in any downpour"})
    return video_request(
        product=product, context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    ).video


@pytest.fixture
def bed(video: Video, tmp_path: Path) -> Path:
    seconds = sum(part.segment.plan["seconds"] for part in video.parts.all())
    return bed_for(aesthetic="cozy", seconds=seconds, out=tmp_path / "bed.m4a")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def decode(data: bytes | Path) -> np.ndarray:
    """Any audio file as mono float samples at 48 kHz."""
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    chunks = []
    with av.open(source) as container:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=RATE)
        for frame in container.decode(audio=0):
            chunks.extend(out.to_ndarray()[0] for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray()[0] for out in resampler.resample(None))
    return np.concatenate(chunks)


def music_db(samples: np.ndarray, start: float, end: float) -> float:
    """The level of everything but the voice's band between two times: the music alone."""
    window = samples[round(start * RATE) : round(end * RATE)]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window)))) ** 2
    hz = np.fft.rfftfreq(len(window), 1 / RATE)
    music = spectrum[(np.abs(hz - VOICE_HZ) > 60) & (hz > 40)]
    return float(10 * np.log10(music.sum() + 1e-20))


def voice_db(samples: np.ndarray, start: float, end: float) -> float:
    window = samples[round(start * RATE) : round(end * RATE)]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(len(window)))) ** 2
    hz = np.fft.rfftfreq(len(window), 1 / RATE)
    return float(10 * np.log10(spectrum[np.abs(hz - VOICE_HZ) <= 20].sum() + 1e-20))


# --- No voice: nothing changes ----------------------------------------------------------------


def test_without_a_voice_the_bed_is_returned_untouched(
    video: Video, bed: Path, workdir: Path
) -> None:
    before = bed.read_bytes()
    assert voice_backend() is None
    assert voice_bed(video=video, bed=bed, workdir=workdir) == bed
    assert bed.read_bytes() == before
    assert list(workdir.iterdir()) == []


# --- The two TTS protocols --------------------------------------------------------------------


def test_openai_speech_answers_audio_that_decodes(openai_voice: FakeTTS) -> None:
    speaker = voice_backend()
    assert isinstance(speaker, OpenAISpeech)
    audio = speaker.speak(LINE)
    assert abs(len(decode(audio)) / RATE - VOICE_SECONDS) < 0.1
    request = openai_voice.requests[-1]
    assert request.path == "/v1/audio/speech"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.body == {
        "model": "tts-1",
        "input": LINE,
        "voice": "nova",
        "response_format": "mp3",
    }


def test_elevenlabs_speech_answers_audio_that_decodes(eleven_voice: FakeTTS) -> None:
    speaker = voice_backend()
    assert isinstance(speaker, ElevenLabsSpeech)
    audio = speaker.speak(LINE)
    assert abs(len(decode(audio)) / RATE - VOICE_SECONDS) < 0.1
    request = eleven_voice.requests[-1]
    assert request.path == f"/v1/text-to-speech/{ELEVEN_VOICE}"
    assert request.headers["xi-api-key"] == ELEVEN_KEY
    assert "authorization" not in request.headers
    assert request.body == {"text": LINE, "model_id": "eleven_multilingual_v2"}


# --- The voiced bed ---------------------------------------------------------------------------


def test_the_voice_speaks_the_videos_lines_from_the_scene_on(
    openai_voice: FakeTTS, video: Video
) -> None:
    line = voice_line(video=video)
    assert line.text == LINE
    hero = video.parts.get(position=0).segment.plan["seconds"]
    assert line.start == hero  # after the opening shot


@pytest.mark.parametrize("provider", ["openai_voice", "eleven_voice"])
def test_the_music_ducks_under_the_voice(
    request: pytest.FixtureRequest, provider: str, video: Video, bed: Path, workdir: Path
) -> None:
    tts: FakeTTS = request.getfixturevalue(provider)
    mixed_path = voice_bed(video=video, bed=bed, workdir=workdir)

    assert mixed_path != bed and mixed_path.parent == workdir
    assert tts.spoken == [LINE]
    original, mixed = decode(bed), decode(mixed_path)
    assert abs(len(mixed) - len(original)) < 0.02 * RATE  # same length: the video's
    with av.open(str(mixed_path)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"

    start = voice_line(video=video).start + LEAD_SECONDS
    end = start + VOICE_SECONDS
    under = (start + 0.4, end - 0.4)
    # Measured: −12.0 dB under the voice, 0.0 dB before and after it; the voice +28.7 dB.
    assert music_db(mixed, *under) - music_db(original, *under) < -9
    before = (1.0, start - 0.5)
    after = (end + 0.8, end + 2.5)
    for window in (before, after):
        assert abs(music_db(mixed, *window) - music_db(original, *window)) < 1.0
    # And the voice is there, well above the music it replaced.
    assert voice_db(mixed, *under) - voice_db(original, *under) > 15


def test_the_voice_is_synthesized_once_per_line(
    openai_voice: FakeTTS, video: Video, bed: Path, tmp_path: Path
) -> None:
    for attempt in range(2):
        work = tmp_path / f"work{attempt}"
        work.mkdir()
        assert voice_bed(video=video, bed=bed, workdir=work) != bed
    assert len(openai_voice.spoken) == 1  # the second assembly reused the stored voice


def test_a_voice_that_fails_leaves_the_music_alone(
    settings: Any,
    tts: FakeTTS,
    video: Video,
    bed: Path,
    workdir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.SCENECART_VOICE = {
        "BACKEND": "providers.speech.OpenAISpeech",
        "OPTIONS": speech_options(tts, api_key="sk-wrong"),
    }
    with caplog.at_level(logging.ERROR, logger="rendering.voice"):
        assert voice_bed(video=video, bed=bed, workdir=workdir) == bed
    assert "Incorrect API key" in caplog.text
    assert len(tts.requests) == 1  # a bad key is not retried


def test_a_voice_provider_that_stays_down_leaves_the_music_alone(
    openai_voice: FakeTTS, video: Video, bed: Path, workdir: Path
) -> None:
    openai_voice.fault("503", times=2)
    assert voice_bed(video=video, bed=bed, workdir=workdir) == bed
    assert len(openai_voice.requests) == 2  # tried, retried once, gave up


def test_a_rate_limit_is_waited_out(
    openai_voice: FakeTTS, video: Video, bed: Path, workdir: Path
) -> None:
    openai_voice.fault("429")
    assert voice_bed(video=video, bed=bed, workdir=workdir) != bed
    assert openai_voice.spoken == [LINE]


def test_audio_that_does_not_decode_leaves_the_music_alone(
    openai_voice: FakeTTS, video: Video, bed: Path, workdir: Path
) -> None:
    openai_voice.audio = b"ID3 this is not an mp3"
    assert voice_bed(video=video, bed=bed, workdir=workdir) == bed
    openai_voice.audio = b""  # nothing was stored, so a fixed provider is asked again
    assert voice_bed(video=video, bed=bed, workdir=workdir) == bed
    assert len(openai_voice.spoken) == 2


def test_a_voice_longer_than_the_music_is_fitted_into_it() -> None:
    """A long line on a short video starts earlier and is cut with a fade before the music's
    fade-out; the bed keeps its length."""
    t = np.arange(5 * RATE) / RATE
    voice = np.tile(0.3 * np.sin(2 * np.pi * VOICE_HZ * t, dtype=np.float32), (2, 1))
    music = np.full((2, 3 * RATE), 0.1, dtype=np.float32)
    mixed = duck_and_mix(music, voice, start=2.0)
    assert mixed.shape == music.shape
    # The voice (a sine, where the music is a positive constant) has finished half a second
    # before the end, and the music is back up at the end.
    assert (mixed[:, -round(0.5 * RATE) :] > 0).all()
    assert (mixed[:, RATE : 2 * RATE] < 0).any()
    assert np.allclose(mixed[:, -round(0.1 * RATE) :], 0.1, atol=1e-3)


# --- Configuration ----------------------------------------------------------------------------


def test_unknown_voice_options_are_refused(settings: Any) -> None:
    settings.SCENECART_VOICE = {
        "BACKEND": "providers.speech.OpenAISpeech",
        "OPTIONS": {"api_key": "k", "voice_id": "nova"},
    }
    with pytest.raises(ImproperlyConfigured, match="voice_id"):
        voice_backend()
    settings.SCENECART_VOICE = {"BACKEND": "providers.speech.ElevenLabsSpeech", "OPTIONS": {}}
    with pytest.raises(ImproperlyConfigured, match="needs a voice"):
        voice_backend()


def test_the_voice_is_configured_from_the_environment() -> None:
    probe = "import json, scenecart.settings.base as s; print(json.dumps(s.SCENECART_VOICE))"

    def load(**variables: str) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SCENECART_VOICE")
            and k not in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY")
        }
        return subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**env, **variables},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert load(OPENAI_API_KEY="sk-1").stdout.strip() == "null"
    openai = load(SCENECART_VOICE_PROVIDER="openai", OPENAI_API_KEY="sk-1")
    assert openai.stdout.strip() == (
        '{"BACKEND": "providers.speech.OpenAISpeech", "OPTIONS": {"api_key": "sk-1"}}'
    )
    eleven = load(
        SCENECART_VOICE_PROVIDER="elevenlabs", ELEVENLABS_API_KEY="xi", SCENECART_VOICE_NAME="v1"
    )
    assert '"voice": "v1"' in eleven.stdout and '"api_key": "xi"' in eleven.stdout
    missing = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "SCENECART_VOICE_PROVIDER": "elevenlabs", "ELEVENLABS_API_KEY": "xi"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and "SCENECART_VOICE_NAME" in missing.stderr


# --- Through the assembly ---------------------------------------------------------------------


@pytest.mark.usefixtures("small_videos")
def test_an_assembled_video_speaks_its_line_over_the_music(openai_voice: FakeTTS, db: None) -> None:
    from django.core.files.storage import default_storage

    from tests.support.factories import make_ready_video

    product = make_product(make_merchant())
    product_update(product=product, attributes={"claim": "Dry in any downpour"})
    video = make_ready_video(product, "climate=rainy")

    assert openai_voice.spoken == [LINE]
    audio = decode(Path(default_storage.path(video.file.name)))
    music = decode(
        bed_for(aesthetic=None, seconds=4.0, out=Path(default_storage.path("plain.m4a")))
    )
    # The 4 s test video: the voice starts after the 1 s opening shot. Without the voice the
    # video's audio is this bed (measured: 0 dB apart); with it, +10 dB in the voice's band.
    assert voice_db(audio, 1.2, 3.8) - voice_db(music, 1.2, 3.8) > 6
