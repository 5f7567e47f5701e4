"""The WebRTC side of a live session (aiortc, the library under Gradio's fastrtc, which needs
gradio < 6): one :class:`LivePeer` per browser. Its microphone track is decoded on the process's
WebRTC event loop, pushed into a :class:`~portraittalk.live.LiveSession` by the peer's own render
thread, and the returned frames leave at the session's frame rate on a video track, each frame's
40 ms of speech on the audio track beside it (so sound and mouth stay together). When the render
thread falls behind, the oldest waiting speech or frames are dropped and counted, so the delay stays
bounded and the page can say the machine cannot keep up. aiortc and PyAV are imported on first use.
"""
from __future__ import annotations

import asyncio
import fractions
import functools
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ..errors import PortraitTalkError

log = logging.getLogger("portraittalk.app.live")

PACKET_S = 0.02  # the returned sound leaves in 20 ms packets, as WebRTC carries speech
MAX_BACKLOG_S = 0.4  # speech waiting to be rendered beyond this is dropped: the delay stays bounded
MAX_WAITING_FRAMES = 4  # rendered frames waiting to be shown beyond this are dropped (160 ms at 25 fps)
SOUND_LAG_S = 0.01  # each sound packet leaves just after its frame, whose tick queues its speech
VIDEO_CLOCK = 90_000  # RTP's video clock


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
