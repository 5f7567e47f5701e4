"""The app in a real Chromium: upload two portraits and speech, generate, get a playable video."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from portraittalk.ui.manager import shared_manager

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

VIDEO_STATE = """() => { const v = document.querySelector('#result-video video');
                         return v ? {src: v.currentSrc || v.src, ready: v.readyState, duration: v.duration} : null }"""


@pytest.mark.browser
def test_generate_in_the_browser(open_app):
    """Generate with two portraits, then the motion view (the layout, the metrics panel and the Status
    tab at two screen sizes: test_layout.py)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_app(1280, 800)
    page.locator("#references input[type=file]").set_input_files(
        [str(ROOT / "assets/portraits/astronaut.png"), str(ROOT / "assets/portraits/man.jpg")])
    page.locator("#audio input[type=file]").set_input_files(str(ROOT / "assets/speech/en_mbp.wav"))
    page.wait_for_function("document.querySelectorAll('#thumbnails img').length == 2", timeout=30_000)
    page.wait_for_selector("#audio audio", state="attached", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "app-inputs-1280.png"))

    page.click("#generate-btn")
    stages, state, deadline = set(), None, time.monotonic() + 120
    while time.monotonic() < deadline:
        for text in page.locator(".progress-level, .progress-text").all_inner_texts():
            stages.add(text.split(" - ")[0].strip())
        state = page.evaluate(VIDEO_STATE)
        if state and state["src"] and state["ready"] >= 1:
            break
        page.wait_for_timeout(100)
    assert state and state["src"].endswith(".mp4") and state["ready"] >= 1, state
    assert state["duration"] == pytest.approx(5.8, abs=0.2)
    assert stages & {"analysing faces", "audio → motion", "rendering", "encoding"}, stages
    assert page.locator("#engine-note").inner_text().startswith("Rendered with warp")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "app-result-1280.png"))

    page.get_by_role("tab", name="Motion").click()
    page.get_by_role("button", name="Draw the landmark track").click()
    page.wait_for_function("() => { const v = document.querySelector('#motion-video video');"
                           " return v && v.readyState >= 1 && v.duration > 5 }", timeout=60_000)  # fmt: skip
    page.screenshot(path=str(ARTIFACTS / "app-motion-1280.png"))


@pytest.mark.browser
def test_bad_input_shows_a_clear_message_and_no_traceback(open_app, bad_inputs):
    page = open_app(1280, 800)
    page.locator("#references input[type=file]").set_input_files(str(bad_inputs["rocket"]))
    page.locator("#audio input[type=file]").set_input_files(str(ROOT / "assets/speech/en_mbp.wav"))
    page.wait_for_selector("#audio audio", state="attached", timeout=30_000)
    page.click("#generate-btn")
    toast = page.locator("[data-testid=toast-text]")
    toast.first.wait_for(timeout=60_000)
    assert toast.first.inner_text().startswith("No face found in 'rocket.png'")
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body
    page.screenshot(path=str(ARTIFACTS / "app-error-1280.png"))


@pytest.mark.browser
def test_cancel_stops_the_job(open_app, app_outputs, tmp_path):
    """Cancel mid-render: no video, a note that says so, and no file (not even a partial one) left."""
    import numpy as np
    import soundfile as sf

    from portraittalk.media import load_audio

    # 40 s of speech: long enough that the job is still rendering when Cancel arrives.
    clips = [load_audio(p).samples for p in sorted((ROOT / "assets/speech").glob("*.wav"))]
    long_speech = tmp_path / "long.wav"
    sf.write(long_speech, np.tile(np.concatenate(clips), 2)[: 40 * 16000], 16000)
    deadline = time.monotonic() + 30
    while any(p.name.startswith(".") for p in app_outputs.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.2)  # let files still being written by earlier tests (motion view) settle
    before = set(app_outputs.iterdir())
    page = open_app(1280, 800)
    page.locator("#references input[type=file]").set_input_files(str(ROOT / "assets/portraits/astronaut.png"))
    page.locator("#audio input[type=file]").set_input_files(str(long_speech))
    page.wait_for_selector("#audio audio", state="attached", timeout=30_000)
    page.click("#generate-btn")
    page.wait_for_function("() => Array.from(document.querySelectorAll('.progress-level'))"
                           ".some(e => e.innerText.includes('rendering'))", timeout=60_000)  # fmt: skip
    page.click("#cancel-btn")
    page.wait_for_function("() => document.querySelector('#engine-note').innerText.includes('Cancelled')",
                           timeout=10_000)  # fmt: skip
    lock = shared_manager().run_lock  # the app under test runs in this process
    deadline = time.monotonic() + 60
    while lock.locked() and time.monotonic() < deadline:  # the job has stopped (or, if broken, finished)
        time.sleep(0.1)
    assert not lock.locked()
    assert page.evaluate(VIDEO_STATE) is None
    assert set(app_outputs.iterdir()) - before == set()  # the cancelled job left nothing
