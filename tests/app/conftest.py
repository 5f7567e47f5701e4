"""A launched app (warp engine, strict serving limits) shared by the app tests, plus bad inputs."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_module():
    sys.path.insert(0, str(ROOT))
    import app

    return app


@pytest.fixture(scope="session")
def app_outputs(tmp_path_factory) -> Path:
    """Where the launched app writes its videos."""
    return tmp_path_factory.mktemp("app-outputs")


@pytest.fixture(scope="session")
def app_url(app_module, app_outputs):
    """The real app on a free port, serving until the session ends."""
    from portraittalk.ui.handlers import ServeLimits

    limits = ServeLimits(queue_size=4)  # the served limits, but a shorter queue
    demo = app_module.build_app(limits=limits, output_root=app_outputs)
    port = free_port()
    app_module.launch(demo, port=port, max_file_size=limits.max_file_size, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def playwright():
    """The one Playwright of the session: its sync API cannot run twice at once in one thread."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    """Debian's Chromium, headless, for the browser tests."""
    b = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def open_app(browser, app_url):
    """``open_app(width, height)``: a new page of the launched app, once its Generate button is there;
    closed after the test."""
    pages = []

    def open_page(width: int = 1280, height: int = 800):
        page = browser.new_page(viewport={"width": width, "height": height})
        pages.append(page)
        page.goto(app_url)
        page.wait_for_selector("#generate-btn", timeout=60_000)
        return page

    yield open_page
    for page in pages:
        page.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory) -> dict[str, Path]:
    """A landscape with no face, a corrupt PNG, a 144-megapixel PNG, a text file named .wav, speech over
    the limit and speech under the minimum."""
    import soundfile as sf
    from skimage import data

    from shared_inputs import oversize_png, speech_excerpt

    from portraittalk.media.image import save_image

    d = tmp_path_factory.mktemp("bad")
    save_image(d / "rocket.png", data.rocket())
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (d / "notes.wav").write_text("these are meeting notes, not a recording\n" * 20)
    from portraittalk.ui.handlers import ServeLimits

    sf.write(d / "long.wav", np.zeros(int(16000 * (ServeLimits().max_audio_seconds + 3)), np.float32), 16000)
    speech_excerpt(d / "short.wav", 0.2)
    oversize_png(d / "huge.png")
    return {p.stem: p for p in d.iterdir()}


@pytest.fixture(scope="session")
def ground_truth(tmp_path_factory) -> dict[str, Path]:
    """A real talking-head clip with its own sound (from the fit set), and what a user makes of it to
    get a result to compare with it: its first frame as the portrait and its sound as the speech."""
    from portraittalk.media import load_audio, read_video
    from portraittalk.media.image import save_image

    d = tmp_path_factory.mktemp("ground-truth")
    clip = ROOT / "benchmarks" / "data" / "clips" / "fit" / "en_mead_w023.mp4"
    for _, frame in read_video(clip):
        save_image(d / "first_frame.png", frame)
        break
    load_audio(clip).write_wav(d / "speech.wav")
    return {"video": clip, "portrait": d / "first_frame.png", "speech": d / "speech.wav"}
