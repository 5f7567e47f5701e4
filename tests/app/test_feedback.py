"""What the app says while and after it works (issue 25), in Chromium: Cancel in reach wherever the
progress is and a cancel that is no error; a result box that says what went wrong; a ground-truth
preview that plays; progress over the whole job with the time left, and a hint before slow work.
Screenshots go to ``artifacts/`` (the docs' before/after pairs: ``docs/screenshots/issue25-*``)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from portraittalk.ui.jobs import JobProgress
from portraittalk.ui.manager import shared_manager
from page_checks import ARTIFACTS, IN_VIEW, ROOT, VIEWPORTS

RENDERING = """() => Array.from(document.querySelectorAll('#result-video .progress-level'))
  .some(e => e.innerText.includes('rendering'))"""
# The result box's own status: "busy" while its event runs, "error" under Gradio's Error badge, else "idle".
RESULT_STATUS = """() => { const t = document.querySelector('#result-video [data-testid=status-tracker]');
  if (!t || t.classList.contains('hide')) return 'idle';
  if (t.querySelector('.error')) return 'error';
  return t.classList.contains('generating') || t.classList.contains('pending')
         || t.querySelector('.progress-level, .progress-text, .eta-bar, .meta-text') ? 'busy' : 'idle'; }"""
TOASTS = """() => Array.from(document.querySelectorAll('.toast-body')).map(t =>
  ({kind: ['error', 'warning', 'info', 'success'].find(k => t.classList.contains(k)) || '?',
    text: t.innerText.replace(/\\s+/g, ' ')}))"""
# Every text the result's progress shows from Generate until the result, recorded at each change.
WATCH_PROGRESS_TEXT = """() => { window.__texts = [];
  const record = () => document.querySelectorAll('#result-video .progress-level .progress-level-inner,'
      + ' #result-video .progress-text').forEach(e => {
    const t = e.innerText.trim(); if (t && window.__texts[window.__texts.length - 1] !== t) window.__texts.push(t); });
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
  record(); }"""


def upload(page, portraits: list[Path], speech: Path) -> None:
    if portraits:
        page.locator("#references input[type=file]").set_input_files([str(p) for p in portraits])
        page.wait_for_function(f"document.querySelectorAll('#thumbnails img').length == {len(portraits)}",
                               timeout=30_000)  # fmt: skip
    page.locator("#audio input[type=file]").set_input_files(str(speech))
    page.wait_for_selector("#audio audio", state="attached", timeout=30_000)


def wait_until_settled(page) -> str:
    """The result box's status once the Generate event is over (its app-side job too) and the events
    that follow it (the note a failure or a cancel leaves, which shows the box pending for a moment)
    have run: not busy for a whole second."""
    lock = shared_manager().run_lock  # the app under test runs in this process
    deadline = time.monotonic() + 60
    while lock.locked() and time.monotonic() < deadline:
        time.sleep(0.1)
    page.evaluate("() => { window.__idleSince = null; }")
    settled = page.wait_for_function(f"""() => {{ const s = ({RESULT_STATUS})();
      if (s === 'busy') {{ window.__idleSince = null; return false; }}
      window.__idleSince = window.__idleSince || performance.now();
      return performance.now() - window.__idleSince >= 1000 ? s : false; }}""", polling=100, timeout=30_000)
    return settled.json_value()


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory) -> Path:
    """40 s of real speech: the job is still rendering when Cancel arrives."""
    import soundfile as sf

    from portraittalk.media import load_audio

    clips = [load_audio(p).samples for p in sorted((ROOT / "assets/speech").glob("*.wav"))]
    path = tmp_path_factory.mktemp("speech") / "long.wav"
    sf.write(path, np.tile(np.concatenate(clips), 2)[: 40 * 16000], 16000)
    return path


@pytest.mark.browser
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_cancel_is_in_reach_while_the_progress_shows_and_cancelling_is_no_error(open_app, long_speech, viewport):
    width, height = viewport
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_app(width, height)
    upload(page, [ROOT / "assets/portraits/astronaut.png"], long_speech)
    page.click("#generate-btn")
    page.wait_for_function(RENDERING, timeout=60_000)
    page.wait_for_function(f"() => ({IN_VIEW})('#result-video .progress-level')", timeout=5_000)  # scrolled to
    page.screenshot(path=str(ARTIFACTS / f"issue25-1-cancel-{width}x{height}.png"))
    assert page.evaluate(IN_VIEW, "#cancel-btn"), page.locator("#cancel-btn").bounding_box()

    page.click("#cancel-btn")
    status = wait_until_settled(page)
    page.wait_for_function("() => document.querySelector('#engine-note').innerText.includes('Cancelled')",
                           timeout=10_000)  # fmt: skip
    page.screenshot(path=str(ARTIFACTS / f"issue25-1-cancelled-{width}x{height}.png"))
    toasts = page.evaluate(TOASTS)
    assert status == "idle" and not [t for t in toasts if t["kind"] == "error"], (status, toasts)


@pytest.mark.browser
@pytest.mark.parametrize("portrait", ["none", "rejected"])
def test_a_failed_generate_says_what_went_wrong_under_the_result(open_app, bad_inputs, portrait):
    """No portrait, or only one the upload refused: the result box is empty (no bare "Error") and the
    note under it says what to do, after the toast has gone too."""
    page = open_app(390, 844)
    upload(page, [], ROOT / "assets/speech/en_mbp.wav")
    if portrait == "rejected":
        page.locator("#references input[type=file]").set_input_files(str(bad_inputs["corrupt"]))
        page.locator("[data-testid=toast-text]").filter(has_text="corrupt.png").first.wait_for(timeout=30_000)
        page.wait_for_function("() => !document.querySelector('#references').innerText.includes('corrupt.png')",
                               timeout=10_000)  # fmt: skip
    page.click("#generate-btn")
    status = wait_until_settled(page)
    page.locator("#result-video").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"issue25-2-error-{portrait}-390x844.png"))
    note = page.locator("#engine-note").inner_text()
    assert status == "idle", f"the result box shows {status!r}; the note says {note!r}"
    assert "Nothing was generated" in note and "Add at least one reference portrait" in note, note
    for close in page.locator(".toast-close").all():  # the toast is gone: the note still says it
        close.click()
    assert "Add at least one reference portrait" in page.locator("#engine-note").inner_text()


@pytest.fixture(scope="module")
def mpeg4_part2_clip(tmp_path_factory, ground_truth) -> Path:
    """The real ground-truth clip re-encoded as MPEG-4 Part 2 (HDTF's format; Chromium cannot play it)."""
    from portraittalk.media.ffmpeg import ffmpeg_exe

    out = tmp_path_factory.mktemp("mpeg4") / "truth_mpeg4.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(ground_truth["video"]), "-c:v", "mpeg4", "-q:v", "3",
                    "-c:a", "aac", str(out)], check=True)  # fmt: skip
    return out


@pytest.mark.browser
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_an_mpeg4_part2_ground_truth_plays_and_is_measured(open_app, ground_truth, mpeg4_part2_clip, viewport):
    width, height = viewport
    page = open_app(width, height)
    upload(page, [ground_truth["portrait"]], ground_truth["speech"])
    page.click("#generate-btn")
    page.wait_for_function("() => !document.querySelector('#download').disabled", timeout=120_000)
    page.locator("#adfd").get_by_text("Compare with a ground-truth video").click()
    page.locator("#truth input[type=file]").set_input_files(str(mpeg4_part2_clip))
    page.wait_for_selector("#truth video", state="attached", timeout=30_000)
    page.locator("#truth").scroll_into_view_if_needed()
    try:  # a picture, not sound only: Chromium plays the clip's AAC and leaves the box blank
        page.wait_for_function("() => { const v = document.querySelector('#truth video');"
                               " return v && (v.videoWidth > 0 || v.error) }", timeout=30_000)  # fmt: skip
    finally:
        page.screenshot(path=str(ARTIFACTS / f"issue25-5-truth-{width}x{height}.png"))
    assert page.evaluate("() => document.querySelector('#truth video').error") is None
    page.get_by_role("button", name="Compute metrics").click()
    page.wait_for_function("() => /ADFD\\s+0\\.\\d+/.test(document.querySelector('#metrics').innerText)",
                           timeout=90_000)  # fmt: skip


@pytest.mark.browser
def test_whole_photo_says_it_is_slower_and_the_progress_counts_the_whole_job(open_app):
    """The hint is there before the long job; the bar never goes back (a stage restarting at 0 % would)
    and says how long is left while it renders."""
    page = open_app(1280, 800)
    upload(page, [ROOT / "assets/portraits/astronaut.png"], ROOT / "assets/speech/en_mbp.wav")
    page.get_by_text("More controls").click()
    box = page.get_by_label("Whole photo (paste the face back)")
    box.check()
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "issue25-7-whole-photo-1280x800.png"))
    hint = page.locator("#full-frame").inner_text(timeout=1_000)
    assert "slower" in hint.lower() and "s of speech" in hint, hint
    page.evaluate(WATCH_PROGRESS_TEXT)
    page.click("#generate-btn")
    page.wait_for_function(RENDERING, timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "issue25-7-progress-1280x800.png"))
    page.wait_for_function("() => !document.querySelector('#download').disabled", timeout=120_000)
    texts = page.evaluate("() => window.__texts")
    percents = [float(t.rsplit("-", 1)[1].strip(" %")) for t in texts if t.endswith("%")]
    assert len(percents) >= 3 and percents == sorted(percents), texts
    assert any("s left" in t for t in texts), texts


def test_the_progress_counts_the_whole_job_and_the_time_left():
    """Stage reports of a job (at the times on the clock): one fraction that only grows, and the time
    left from the rendering rate so far."""
    now = [0.0]
    job = JobProgress(clock=lambda: now[0])
    reports = [("analysing faces", 0, 1, 0.0), ("analysing faces", 1, 1, 0.5), ("audio → motion", 0, 1, 0.5),
               ("audio → motion", 1, 1, 1.0), ("rendering", 1, 100, 1.0), ("rendering", 51, 100, 6.0),
               ("rendering", 100, 100, 10.9), ("encoding", 0, 1, 10.9), ("encoding", 1, 1, 11.5)]  # fmt: skip
    seen = []
    for stage, done, total, t in reports:
        now[0] = t
        seen.append(job.update(stage, done, total))
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert seen[2] == (pytest.approx(0.05), "audio → motion")  # not back to 0 at a new stage
    assert seen[5] == (pytest.approx(0.15 + 0.8 * 0.51), "rendering · about 5 s left")  # 0.1 s a frame, 49 to go


def test_a_failed_generate_leaves_its_message_for_the_note(tmp_path):
    """The message of the toast, for the note under the empty result box; a job Cancel stopped left none."""
    from types import SimpleNamespace

    import gradio as gr

    from portraittalk.ui.handlers import Handlers, ServeLimits
    from portraittalk.ui.manager import ModelManager

    h = Handlers(ModelManager(), ServeLimits(), tmp_path)
    request = SimpleNamespace(session_hash="session-1")
    with pytest.raises(gr.Error, match="Add at least one reference portrait"):
        h.generate([], str(ROOT / "assets/speech/en_mbp.wav"), request=request)
    assert h.generation_failed(request) == (None, "**Nothing was generated.** Add at least one reference portrait "
                                                  "(JPEG, PNG, WebP or BMP).")  # fmt: skip
    assert h.generation_failed(request) == (None, gr.skip())  # told once; a cancel's note stays


def test_a_ground_truth_the_browser_cannot_play_gets_an_h264_copy(mpeg4_part2_clip, ground_truth, tmp_path):
    from portraittalk.media import read_video
    from portraittalk.media.ffmpeg import ffmpeg_exe
    from portraittalk.ui.views import playable_preview

    preview = playable_preview(mpeg4_part2_clip, tmp_path / "preview.mp4")
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(preview)], capture_output=True, text=True)
    assert "Video: h264" in probe.stderr and "Audio: aac" in probe.stderr
    assert len(list(read_video(preview))) == len(list(read_video(mpeg4_part2_clip)))
    assert playable_preview(ground_truth["video"], tmp_path / "unneeded.mp4") is None  # H.264 already
    assert not (tmp_path / "unneeded.mp4").exists()


def test_the_metrics_read_the_uploaded_ground_truth_not_its_preview(mpeg4_part2_clip, ground_truth, tmp_path):
    """The player's H.264 copy is only for the eyes: Compute metrics on it measures the upload."""
    import shutil

    from portraittalk.ui.handlers import Handlers, ServeLimits
    from portraittalk.ui.manager import ModelManager

    h = Handlers(ModelManager(), ServeLimits(), tmp_path / "outputs")
    preview, previews = h.truth_uploaded(str(mpeg4_part2_clip))
    shown = tmp_path / "gradio-cache" / Path(preview).name  # Gradio serves a copy under the same name
    shown.parent.mkdir()
    shutil.copy(preview, shown)
    generated = str(ground_truth["video"])
    via_preview = h.evaluate(generated, str(shown), None, previews)[0]
    assert via_preview == h.evaluate(generated, str(mpeg4_part2_clip))[0]
    assert via_preview != h.evaluate(generated, str(shown))[0]  # the copy measures differently
