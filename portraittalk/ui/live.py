"""The Live tab: its layout, its callbacks (start, status, stop) and the live slots. The browser's
microphone reaches a :class:`~portraittalk.live.LiveSession` over WebRTC through one
:class:`~portraittalk.live.rtc.LivePeer` per browser (``live/rtc.py``). Live sessions are limited to
one per CPU core (:class:`LiveSlots`); a visitor beyond that waits, told why.
"""
from __future__ import annotations

import functools
import html
import inspect
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import gradio as gr

from ..config import FLAT, GenerateRequest
from ..errors import InputError, PortraitTalkError
from ..live.rtc import LivePeer
from ..weights import Weights

log = logging.getLogger("portraittalk.app.live")

RTC_ENV = "PORTRAITTALK_RTC_CONFIGURATION"  # JSON {"iceServers": [...]}: the TURN server a Space needs

BLOCKED = {
    "NotAllowedError": "The browser blocked the microphone. Allow it for this page (the icon at the left of the "
                       "address bar, or the browser's site settings) and press Start again.",
    "NotFoundError": "No microphone was found. Connect one (or pick one in the browser's settings) and press "
                     "Start again.",
    "NotReadableError": "The microphone could not be opened: another program may be using it. Close that program "
                        "and press Start again.",
    "insecure": "The browser lends the microphone only to secure pages: open this app over https (or on "
                "localhost).",
    "webrtc": "This browser cannot make a WebRTC connection; use a recent Chrome, Edge, Firefox or Safari.",
}  # fmt: skip
NO_PORTRAIT = "pick a portrait first (a photo with one clear face), then press Start."
WAITING = ("**Waiting for a live slot.** All {n} live slot{s} of this server {are} in use (one per CPU core, so each "
           "portrait keeps up in real time); yours starts as soon as one frees. Waited {waited:.0f} s.")  # fmt: skip
STARTED = "**Live.** Speak: the portrait answers with your voice about a fifth of a second later."
STOPPED = "Stopped. Press Start to speak again."
IDLE = "Pick a portrait, press **Start** and allow the microphone. Headphones keep your voice from echoing back."


def rtc_configuration_from_env() -> Optional[dict]:
    """The ICE servers (STUN/TURN) from ``$PORTRAITTALK_RTC_CONFIGURATION``; None: direct connections only."""
    text = os.environ.get(RTC_ENV, "").strip()
    if not text:
        return None
    config = json.loads(text)
    if not isinstance(config, dict) or not isinstance(config.get("iceServers"), list):
        raise ValueError(f"${RTC_ENV} must be a JSON object with an 'iceServers' list, as RTCPeerConnection takes")
    return config


@dataclass(frozen=True)
class LiveServe:
    """What one server offers live: how many sessions at once, their size, the ICE servers."""

    max_sessions: int = field(default_factory=lambda: os.cpu_count() or 1)  # one per core: each renders in real time
    size: int = 256  # px; the render and the VP8 encoder share the cores, so live frames are small
    rtc_configuration: Optional[dict] = field(default_factory=rtc_configuration_from_env)
    wait_poll_s: float = 0.5  # how often a waiting visitor's start looks for a free slot
    max_wait_s: float = 600.0  # a visitor waits this long at most, then is told to try again


class LiveSlots:
    """At most ``n`` live sessions at once, each held by one browser session's key."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._lock = threading.Lock()
        self._holders: set[str] = set()

    def take(self, holder: str) -> bool:
        """Take a slot for ``holder``; False when all are in use."""
        with self._lock:
            if holder in self._holders:
                return True
            if len(self._holders) >= self.n:
                return False
            self._holders.add(holder)
            return True

    def give_back(self, holder: str) -> None:
        with self._lock:
            self._holders.discard(holder)

    @property
    def in_use(self) -> int:
        with self._lock:
            return len(self._holders)


def _session(request: Optional[gr.Request]) -> str:
    return getattr(request, "session_hash", None) or "api"


def _stream_errors(fn: Callable, public: Callable[[str], str]) -> Callable:
    """Like :func:`.handlers.user_errors`, for a handler that yields: package errors become ``gr.Error``."""
    from .handlers import UNEXPECTED, sentence

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from fn(*args, **kwargs)
        except gr.Error:
            raise
        except PortraitTalkError as exc:
            raise gr.Error(html.escape(sentence(public(str(exc))), quote=False), print_exception=False) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(UNEXPECTED, print_exception=False) from None

    wrapper.__signature__ = inspect.signature(fn)  # Gradio reads the request parameter from it
    return wrapper


class LiveHandlers:
    """The Live tab's callbacks: start (wait for a slot, open the session, answer the offer), status, stop."""

    def __init__(self, manager: Any, serve: Optional[LiveServe] = None,
                 open_session: Optional[Callable[..., Any]] = None) -> None:  # fmt: skip
        self.manager = manager
        self.serve = serve or LiveServe()
        self.slots = LiveSlots(self.serve.max_sessions)
        self.open_session = open_session or (lambda references, **settings: manager.get().live(references, **settings))
        self.peers: dict[str, LivePeer] = {}
        self.start = _stream_errors(self._start, manager.public)

    def _start(self, portrait: Optional[str], w1: float, w2: float, w3: float, offer: str,
               request: gr.Request = None) -> Iterator[tuple[Any, str, Any]]:  # fmt: skip
        key = _session(request)
        self.closed(request)  # a second Start replaces the first
        if offer.startswith("error:"):  # said where the portrait would be, and it stays there
            blocked = BLOCKED.get(offer[len("error:"):], BLOCKED["NotAllowedError"])
            yield gr.update(), "⚠️ " + blocked, gr.Timer(active=False)
            return
        if not portrait:
            raise InputError(NO_PORTRAIT)
        references = self.manager.get().analyse([portrait], self.serve.size, FLAT["crop_margin"].default)
        waited = time.monotonic()  # a portrait without a face is said at once, not after the wait
        while not self.slots.take(key):
            if time.monotonic() - waited > self.serve.max_wait_s:
                raise InputError("no live slot freed in time; try again in a few minutes.")
            n = self.slots.n
            message = WAITING.format(n=n, s="" if n == 1 else "s", are="is" if n == 1 else "are",
                                     waited=time.monotonic() - waited)  # fmt: skip
            yield gr.update(), message, gr.Timer(active=False)
            time.sleep(self.serve.wait_poll_s)
        try:
            session = self.open_session(references, w1=w1, w2=w2, w3=w3, size=self.serve.size)
        except BaseException:
            self.slots.give_back(key)
            raise
        peer = LivePeer(session, on_end=lambda: self.slots.give_back(key))
        self.peers[key] = peer
        try:
            answer = peer.connect(json.loads(offer), self.serve.rtc_configuration)
        except BaseException:
            peer.end("the connection could not be made")
            raise
        yield json.dumps(answer), STARTED, gr.Timer(active=True)

    def status(self, request: gr.Request = None) -> tuple[str, Any]:
        """The status line while live: time, frames, the delay here, frames dropped; the reason it ended."""
        peer = self.peers.get(_session(request))
        if peer is None:
            return gr.update(), gr.Timer(active=False)
        if peer.ended.is_set():
            reason = peer.end_reason
            return (f"Stopped: {reason}." if reason else STOPPED), gr.Timer(active=False)
        s = peer.stats
        delay = s.delay_ms()
        line = (f"**Live** · {time.monotonic() - s.started:.0f} s · {s.frames_shown} frames · delay here "
                f"{'…' if delay is None else f'{delay:.0f} ms'} (plus the network's)")  # fmt: skip
        if s.frames_dropped:
            line += (f"\n\n⚠️ **This machine cannot keep up:** {s.frames_dropped} frames dropped so far (the "
                     "portrait skips). Other work on the server slows it; it catches up when that ends.")  # fmt: skip
        return line, gr.update()

    def stop(self, request: gr.Request = None) -> tuple[str, Any]:
        """The Stop button: end this visitor's session."""
        self.closed(request)
        return STOPPED, gr.Timer(active=False)

    def closed(self, request: gr.Request = None) -> None:
        """End this visitor's session (Stop, a new Start, or the tab closing): the session closes, the slot frees."""
        peer = self.peers.pop(_session(request), None)
        if peer is not None:
            peer.end()
            peer.join()


CLIENT_JS = """
if (!window.ptLive) window.ptLive = (() => {
  const live = {pc: null, mic: null, micStartedAt: null};
  const view = () => document.querySelector('#live-video');
  live.stop = () => {
    clearInterval(live.sync);
    if (live.pc) live.pc.close();
    if (live.mic) live.mic.getTracks().forEach(t => t.stop());
    live.pc = null; live.mic = null;
    const v = view(); if (v) v.srcObject = null;
  };
  live.offer = async (rtc) => {
    live.stop();
    if (!window.RTCPeerConnection) return 'error:webrtc';
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return 'error:insecure';
    try {
      live.mic = await navigator.mediaDevices.getUserMedia({audio: {channelCount: 1, echoCancellation: true,
                                                                     noiseSuppression: true, autoGainControl: true}});
    } catch (e) { return 'error:' + (e && e.name || 'NotAllowedError'); }
    live.micStartedAt = performance.now();
    const pc = live.pc = new RTCPeerConnection(rtc || {});
    live.mic.getTracks().forEach(t => pc.addTrack(t, live.mic));
    pc.addTransceiver('video', {direction: 'recvonly'});
    const shown = new MediaStream();
    pc.ontrack = ev => {
      shown.addTrack(ev.track);
      const v = view();
      if (v && v.srcObject !== shown) { v.srcObject = shown; }
      if (v) v.play().catch(() => {});
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise(done => {
      if (pc.iceGatheringState === 'complete') return done();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done());
      setTimeout(done, 3000);  // the candidates found so far are enough on most networks
    });
    return JSON.stringify({sdp: pc.localDescription.sdp, type: pc.localDescription.type});
  };
  live.answer = async (text) => {
    if (!live.pc || !text) return;
    await live.pc.setRemoteDescription(JSON.parse(text));
    live.sync = setInterval(syncVideo, 1000);
  };
  // The sound waits longer in the browser's jitter buffer than the frames (measured: 170 ms against 40 ms on
  // a busy server), and the browser does not hold the video back to match: hold each frame as long.
  let heard = {delay: 0, count: 0};
  const syncVideo = async () => {
    if (!live.pc) return;
    let sound = null;
    (await live.pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'audio') sound = s; });
    if (!sound || !sound.jitterBufferEmittedCount) return;
    const count = sound.jitterBufferEmittedCount - heard.count;
    const video = live.pc.getReceivers().find(r => r.track && r.track.kind === 'video');
    if (count > 0 && video && 'jitterBufferTarget' in video)
      video.jitterBufferTarget = Math.min(2000, Math.round(1000 * (sound.jitterBufferDelay - heard.delay) / count));
    heard = {delay: sound.jitterBufferDelay, count: sound.jitterBufferEmittedCount};
  };
  return live;
})();
"""


def start_js(rtc_configuration: Optional[dict]) -> str:
    """The Start button's browser side: the microphone and the offer, handed to the start handler as its
    last input (or ``error:<name>`` when the browser refused the microphone)."""
    rtc = json.dumps(rtc_configuration or {})
    return ("async (portrait, w1, w2, w3, offer) => {" + CLIENT_JS +
            f"  offer = await window.ptLive.offer({rtc});\n  return [portrait, w1, w2, w3, offer]; }}")  # fmt: skip


def live_tab(live: LiveHandlers, demo: gr.Blocks, examples: list[str], portrait: Optional[str] = None,
             request: Optional[GenerateRequest] = None) -> None:
    """The Live tab's layout, inside the caller's Blocks: a portrait (``portrait`` preselected, ``examples``
    offered) and the microphone in, the portrait speaking back over WebRTC; w1–w3 start at ``request``'s."""
    from .widgets import setting_slider as slider

    controls = (request or GenerateRequest()).controls
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            image = gr.Image(portrait, label="Portrait", type="filepath", sources=["upload"], elem_id="live-portrait",
                             height=240)  # fmt: skip
            if examples:
                gr.Examples([[path] for path in examples], inputs=[image])
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="live-start", scale=3, min_width=150)
                stop = gr.Button("Stop", variant="stop", elem_id="live-stop", scale=1, min_width=90)
            with gr.Accordion("More controls: w1–w3", open=False):
                w1 = slider("w1", "w1 · structure", 0.05, value=controls.w1)
                w2 = slider("w2", "w2 · head placement", 0.05, value=controls.w2)
                w3 = slider("w3", "w3 · temporal", 0.05, value=controls.w3)
        with gr.Column(scale=6, min_width=300):  # the status first: on a phone it is in view after Start
            status = gr.Markdown(IDLE, elem_id="live-status")
            gr.HTML(VIEW_HTML, css_template=VIEW_CSS, elem_id="live-view")
    offer = gr.Textbox(visible="hidden", elem_id="live-offer")  # the browser's offer, filled by start_js
    answer = gr.Textbox(visible="hidden", elem_id="live-answer")
    ticks = gr.Timer(1.0, active=False)
    go = start.click(live.start, [image, w1, w2, w3, offer], [answer, status, ticks],
                     js=start_js(live.serve.rtc_configuration), api_visibility="private", concurrency_id="live",
                     concurrency_limit=None, show_progress="hidden")  # fmt: skip
    go.failure(None, js=STOP_JS, queue=False)  # no face, say: the microphone is let go at once
    answer.change(None, answer, None, js=ANSWER_JS, queue=False)
    stop.click(live.stop, None, [status, ticks], js=STOP_JS, cancels=[go], api_visibility="private", queue=False,
               show_progress="hidden")  # fmt: skip
    ticks.tick(live.status, None, [status, ticks], api_visibility="private", queue=False, show_progress="hidden")
    demo.unload(live.closed)


def serve_live_page(refs: list[Path], request: GenerateRequest, weights: Weights, host: str = "127.0.0.1",
                    port: int = 7861) -> int:  # fmt: skip
    """``portraittalk live --ref IMG``: the Live tab alone, its first portrait preselected, the others
    offered; blocks until stopped (Ctrl+C)."""
    from .manager import ModelManager

    for ref in refs:
        if not ref.is_file():
            raise InputError(f"no such portrait: '{ref}'.")
    live = LiveHandlers(ModelManager(weights))
    with gr.Blocks(title="PortraitTalk live") as demo:
        gr.Markdown("# PortraitTalk live\nPress **Start** and allow the microphone: the portrait speaks with you.")
        live_tab(live, demo, [str(r) for r in refs], portrait=str(refs[0]), request=request)
    demo.queue(default_concurrency_limit=1)
    print(f"live page on http://{host}:{port}/ (Ctrl+C stops it)", file=sys.stderr)
    folders = sorted({str(r.resolve().parent) for r in refs})  # the preselected portrait is served from its folder
    demo.launch(server_name=host, server_port=port, theme=gr.themes.Soft(), allowed_paths=folders)
    return 0


ANSWER_JS = "(answer) => { if (window.ptLive) window.ptLive.answer(answer); }"
STOP_JS = "() => { if (window.ptLive) window.ptLive.stop(); }"
VIEW_HTML = '<video id="live-video" autoplay playsinline></video>'
VIEW_CSS = """video { width: 100%; max-width: 480px; aspect-ratio: 1; display: block; margin: 0 auto;
                      background: var(--block-background-fill); border-radius: var(--radius-lg); }"""
