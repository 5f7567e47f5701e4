"""The Live tab's server side: the browser's microphone in, the portrait speaking with the delayed
sound out, over WebRTC (aiortc, the library under Gradio's fastrtc, which needs gradio < 6).

One :class:`LivePeer` per browser: its microphone track is decoded on the process's WebRTC event
loop, pushed into a :class:`~portraittalk.live.LiveSession` by the peer's own render thread, and the
returned frames leave at the session's frame rate on a video track, each frame's 40 ms of speech on
the audio track beside it (so sound and mouth stay together). When the render thread falls behind,
the oldest waiting speech or frames are dropped and counted, so the delay stays bounded and the page
says the machine cannot keep up. Live sessions are limited to one per CPU core (:class:`LiveSlots`);
a visitor beyond that waits, told why.
"""
from __future__ import annotations

import asyncio
import fractions
import functools
import html
import inspect
import json
import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import gradio as gr
import numpy as np

from ..config import FLAT, GenerateRequest
from ..errors import InputError, PortraitTalkError
from ..weights import Weights

log = logging.getLogger("portraittalk.app.live")

RTC_ENV = "PORTRAITTALK_RTC_CONFIGURATION"  # JSON {"iceServers": [...]}: the TURN server a Space needs
PACKET_S = 0.02  # the returned sound leaves in 20 ms packets, as WebRTC carries speech
MAX_BACKLOG_S = 0.4  # speech waiting to be rendered beyond this is dropped: the delay stays bounded
MAX_WAITING_FRAMES = 4  # rendered frames waiting to be shown beyond this are dropped (160 ms at 25 fps)
SOUND_LAG_S = 0.01  # each sound packet leaves just after its frame, whose tick queues its speech
VIDEO_CLOCK = 90_000  # RTP's video clock

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


@functools.lru_cache(maxsize=None)
def rtc_loop() -> asyncio.AbstractEventLoop:
    """The process's one WebRTC event loop, on its own thread (Gradio's handlers run on worker threads)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="live-webrtc", daemon=True).start()
    return loop


def _on_loop(coro: Any, timeout: float = 30.0) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, rtc_loop()).result(timeout)


@dataclass
class LiveStats:
    """What the page says about a running session."""

    started: float = field(default_factory=time.monotonic)
    frames_shown: int = 0
    frames_dropped: int = 0
    delays: deque = field(default_factory=lambda: deque(maxlen=250))  # s, a frame's last speech in -> frame out

    def delay_ms(self) -> Optional[float]:
        return 1000 * float(np.median(self.delays)) if self.delays else None


class LivePeer:
    """One browser's live connection: its microphone in, the session's frames and their sound out."""

    def __init__(self, session: Any, on_end: Callable[[], None]) -> None:
        self.session = session
        self.fps = float(session.fps)
        self.rate = int(session.sample_rate)
        self.stats = LiveStats()
        self.ended = threading.Event()
        self.end_reason = ""
        self._on_end = on_end
        self._inbox: queue.Queue = queue.Queue()  # (arrival, samples, rate) or None: the end
        self._frames: deque = deque()  # (LiveFrame, arrival of its last speech), rendered and not yet shown
        self._sound: deque = deque()  # float32 arrays: the speech of the frames shown, not yet sent
        self._pushed: deque = deque(maxlen=512)  # (session seconds pushed, arrival) of recent chunks
        self._pushed_s = 0.0
        self._image: Optional[np.ndarray] = None
        self._t0: Optional[float] = None
        self._ticks = 0
        self._packets = 0
        self._pc: Any = None
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._render, name="live-render", daemon=True)
        self._worker.start()

    # -- signalling -----------------------------------------------------------------------------
    def connect(self, offer: dict, rtc_configuration: Optional[dict]) -> dict:
        """Answer the browser's offer (its microphone track in; a video and an audio track out)."""
        return _on_loop(self._answer(offer, rtc_configuration))

    async def _answer(self, offer: dict, rtc_configuration: Optional[dict]) -> dict:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        self._pc = pc = RTCPeerConnection(_aiortc_configuration(rtc_configuration))

        @pc.on("track")
        def _track(track: Any) -> None:
            if track.kind == "audio":
                asyncio.ensure_future(self._listen(track))

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self.end("the connection closed (the tab was closed or the network dropped)")

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
        video, sound = _track_classes()
        pc.addTrack(sound(self))
        pc.addTrack(video(self))
        await pc.setLocalDescription(await pc.createAnswer())
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    # -- the microphone in ------------------------------------------------------------------------
    async def _listen(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while not self.ended.is_set():
                frame = await track.recv()
                pcm = frame.to_ndarray()
                channels = len(frame.layout.channels)
                samples = pcm.mean(axis=0) if frame.format.is_planar else pcm.reshape(-1, channels).mean(axis=1)
                self.hear(samples.astype(np.float32) / 32768.0, frame.sample_rate)
        except MediaStreamError:
            self.end("the microphone stopped")

    def hear(self, samples: np.ndarray, sample_rate: int) -> None:
        """Speech as it arrives (float32 mono), for the render thread."""
        self._inbox.put((time.monotonic(), samples, sample_rate))

    def _render(self) -> None:
        """The render thread: pushes the speech as it comes, dropping what waits too long."""
        try:
            while True:
                item = self._inbox.get()
                if item is None:
                    return
                arrival, samples, rate = item
                late = self._drop_backlog(len(samples) / rate)
                if late is not None:
                    arrival, samples, rate = late
                self._pushed_s += len(samples) / rate
                self._pushed.append((self._pushed_s, arrival))
                for frame in self.session.push(samples, rate):
                    self._frames.append((frame, self._arrival(frame.time + 1.0 / self.fps)))
        except PortraitTalkError as exc:
            self.end(str(exc))
        except Exception:  # a bug: the server log has it, the page a sentence
            log.exception("live session failed")
            self.end("the live session failed; the server log has the details")
        finally:
            self.session.close()
            self._on_end()

    def _drop_backlog(self, chunk_s: float) -> Optional[tuple]:
        """When more than MAX_BACKLOG_S of speech waits, keep only the newest chunk; count the frames lost."""
        waiting = self._inbox.qsize()
        if waiting * chunk_s <= MAX_BACKLOG_S:
            return None
        newest, lost_s = None, chunk_s
        for _ in range(waiting):
            item = self._inbox.get_nowait()
            if item is None:
                self._inbox.put(None)
                break
            if newest is not None:
                lost_s += len(newest[1]) / newest[2]
            newest = item
        self.stats.frames_dropped += int(round(lost_s * self.fps))
        return newest

    def _arrival(self, session_s: float) -> float:
        for pushed_s, arrival in self._pushed:
            if pushed_s >= session_s - 1e-6:
                return arrival
        return self._pushed[-1][1] if self._pushed else time.monotonic()

    # -- the portrait out ---------------------------------------------------------------------------
    async def next_image(self) -> Any:
        """The video track's next frame, at the session's frame rate; the last one again when none is ready."""
        import av

        await self._start_clock()
        await asyncio.sleep(max(0.0, self._t0 + self._ticks / self.fps - time.monotonic()))
        while len(self._frames) > MAX_WAITING_FRAMES:
            self._frames.popleft()
            self.stats.frames_dropped += 1
        if self._frames:
            frame, arrival = self._frames.popleft()
            self._image = frame.image
            self._sound.append(np.asarray(frame.audio, np.float32))
            self.stats.frames_shown += 1
            self.stats.delays.append(time.monotonic() - arrival)
        out = av.VideoFrame.from_ndarray(np.ascontiguousarray(self._image), format="rgb24")
        out.pts = int(round(self._ticks * VIDEO_CLOCK / self.fps))
        out.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._ticks += 1
        return out

    async def next_sound(self) -> Any:
        """The audio track's next 20 ms: the speech of the frames shown, silence where there is none."""
        import av

        await self._start_clock()
        n = int(round(PACKET_S * self.rate))
        await asyncio.sleep(max(0.0, self._t0 + SOUND_LAG_S + self._packets * PACKET_S - time.monotonic()))
        chunk = self._take_sound(n)
        pcm = (np.clip(chunk, -1.0, 1.0) * 32767).astype(np.int16)[None, :]
        out = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        out.sample_rate = self.rate
        out.pts = self._packets * n
        out.time_base = fractions.Fraction(1, self.rate)
        self._packets += 1
        return out

    def _take_sound(self, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        filled = 0
        while filled < n and self._sound:
            head = self._sound[0]
            take = min(n - filled, len(head))
            out[filled:filled + take] = head[:take]
            filled += take
            if take == len(head):
                self._sound.popleft()
            else:
                self._sound[0] = head[take:]
        return out

    async def _start_clock(self) -> None:
        from aiortc.mediastreams import MediaStreamError

        while self._t0 is None:
            if self.ended.is_set():
                raise MediaStreamError
            if self._frames:
                self._t0 = time.monotonic()
                self._image = self._frames[0][0].image
                break
            await asyncio.sleep(0.005)
        if self.ended.is_set():
            raise MediaStreamError

    # -- the end ----------------------------------------------------------------------------------
    def end(self, reason: str = "") -> None:
        """Stop (idempotent, from any thread): the render thread closes the session and frees the slot."""
        with self._lock:
            if self.ended.is_set():
                return
            self.ended.set()
            self.end_reason = reason
        self._inbox.put(None)
        if self._pc is not None:
            asyncio.run_coroutine_threadsafe(self._pc.close(), rtc_loop())

    def join(self, timeout: float = 5.0) -> None:
        self._worker.join(timeout)


def _aiortc_configuration(config: Optional[dict]) -> Any:
    from aiortc import RTCConfiguration, RTCIceServer

    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
               for s in (config or {}).get("iceServers", [])]  # fmt: skip
    return RTCConfiguration(iceServers=servers or None)


@functools.lru_cache(maxsize=None)
def _track_classes() -> tuple[type, type]:
    """The outgoing tracks (aiortc imported on first use, not with the app)."""
    from aiortc import MediaStreamTrack

    class PortraitTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self, peer: LivePeer) -> None:
            super().__init__()
            self.peer = peer

        async def recv(self) -> Any:
            return await self.peer.next_image()

    class SpeechTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self, peer: LivePeer) -> None:
            super().__init__()
            self.peer = peer

        async def recv(self) -> Any:
            return await self.peer.next_sound()

    return PortraitTrack, SpeechTrack


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
