"""Plausible bugs in live streaming: the session, chunking, latency and the Live tab."""
from __future__ import annotations

from mutation.mutate import Mutant  # noqa: F401

MUTANTS: list = []

# live-core: the streaming session (portraittalk/live/)
LIVE_TESTS = "tests/test_live.py"
TIMING = f"{LIVE_TESTS}::test_frames_come_exactly_when_their_sound_and_lookahead_have_arrived"
CHUNKINGS = f"{LIVE_TESTS}::test_the_same_sound_in_any_chunking_gives_the_same_frames"
RATES = f"{LIVE_TESTS}::test_audio_at_other_rates_is_resampled"
CLOSED = f"{LIVE_TESTS}::test_a_session_closed_midway_frees_everything_and_refuses_more"
SESSION, MOTION, STREAM = "portraittalk/live/session.py", "portraittalk/live/motion.py", "portraittalk/live/audio.py"

MUTANTS += [
    Mutant("live: frames out before their lookahead has arrived", MOTION,
           "frame_start(native, MODEL_FPS)) + self.lookahead <= received\n",
           "frame_start(native, MODEL_FPS)) <= received\n", (TIMING,)),
    Mutant("live: a chunk's remainder lost (only whole 20 ms blocks kept)", STREAM,
           "    def _append(self, x: np.ndarray) -> None:\n",
           "    def _append(self, x: np.ndarray) -> None:\n        x = x[: len(x) // 320 * 320]\n", (TIMING,)),
    Mutant("live: frame times off by one", SESSION,
           "LiveFrame(k, k / self.fps,", "LiveFrame(k, (k + 1) / self.fps,", (TIMING,)),
    Mutant("live: a frame carries the next frame's sound", SESSION,
           "        sound = self._audio.read(frame_start(k, self.fps), frame_start(k + 1, self.fps))\n",
           "        sound = self._audio.read(frame_start(k + 1, self.fps), frame_start(k + 2, self.fps))\n", (TIMING,)),
    Mutant("live: the end of a stream owes one frame too few", SESSION,
           "        total = max(1, int(round(audio.total / SAMPLE_RATE * self.fps)))\n",
           "        total = max(1, int(audio.total / SAMPLE_RATE * self.fps))\n", (TIMING,)),
    Mutant("live: the sample rate ignored (no resampling)", STREAM,
           "            if rate != SAMPLE_RATE:\n", "            if False:\n", (RATES,)),
    Mutant("live: the resampler's tail lost at the end of a stream", STREAM,
           "            self._append(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))\n",
           "            pass\n", (RATES,)),
    Mutant("live: integer PCM taken as float", STREAM,
           "        x = (x.astype(np.float32) - (info.max + info.min + 1) / 2) / (info.max + 1)\n",
           "        x = x.astype(np.float32)\n", (RATES,)),
    Mutant("live: w3's smoothing state reset on every push", SESSION,
           "        audio.add(samples, sample_rate)\n",
           "        audio.add(samples, sample_rate)\n"
           "        self._controls = CausalControls(self.request.controls, self.request.render.smoothing_s, self.fps,\n"
           "                                        self._motion.reference)\n",
           (CHUNKINGS,)),
    Mutant("live: a frame's mouth completed before its lookahead's log-mel is in (the network reads short)",
           "portraittalk/live/mouth_stream.py", "else self._native - 1 - LOOKAHEAD_FRAMES\n", "else self._native - 1\n",
           (f"{LIVE_TESTS}::test_the_streamed_mouth_is_the_offline_causal_mouth_in_any_chunking",)),
    Mutant("live: a closed session keeps its renderer", SESSION,
           "        self._renderer = None\n        self._audio = None\n", "        self._audio = None\n", (CLOSED,)),
]

# live-app: the Live tab (portraittalk/ui/live.py) and its WebRTC peer (portraittalk/live/rtc.py)
LIVE_TAB = "tests/app/test_live_tab.py"
SPEAKS = f"{LIVE_TAB}::test_live_mouth_follows_the_microphone"
WAITS = f"{LIVE_TAB}::test_second_visitor_waits_for_the_slot"
BLOCKED_MIC = f"{LIVE_TAB}::test_blocked_microphone"
SLOW = f"{LIVE_TAB}::test_a_machine_that_cannot_keep_up_drops_frames_and_says_so"
NO_FACE = f"{LIVE_TAB}::test_a_portrait_without_a_face"
UI_LIVE = "portraittalk/ui/live.py"
RTC = "portraittalk/live/rtc.py"

MUTANTS += [
    Mutant("live tab: the slot limit not enforced", UI_LIVE,
           "            if len(self._holders) >= self.n:\n", "            if False:\n", (WAITS,)),
    Mutant("live tab: the session not closed when its peer ends", RTC,
           "            self.session.close()\n", "            pass\n", (SPEAKS,)),
    Mutant("live tab: frames go out without their sound", RTC,
           "            self._sound.append(np.asarray(frame.audio, np.float32))\n", "", (SPEAKS,)),
    Mutant("live tab: Stop leaves the session running", UI_LIVE,
           "            peer.end()\n            peer.join()\n", "            pass\n", (SPEAKS,)),
    Mutant("live tab: the slot not given back when a session ends", UI_LIVE,
           "on_end=lambda: self.slots.give_back(key)", "on_end=lambda: None", (WAITS,)),
    Mutant("live tab: a blocked microphone taken for a missing one", UI_LIVE,
           'BLOCKED.get(offer[len("error:"):], BLOCKED["NotAllowedError"])', 'BLOCKED["NotFoundError"]',
           (BLOCKED_MIC,)),
    Mutant("live tab: speech waiting too long is never dropped", RTC,
           "        if waiting * chunk_s <= MAX_BACKLOG_S:\n", "        if True:\n", (SLOW,)),
    Mutant("live tab: dropped frames not counted", RTC,
           "        self.stats.frames_dropped += int(round(lost_s * self.fps))\n", "", (SLOW,)),
    Mutant("live tab: a portrait without a face is told only after the wait for a slot", UI_LIVE,
           "        references = self.manager.get().analyse(", "        references = [portrait] or (", (NO_FACE,)),
    Mutant("live tab: a refused start keeps the microphone open", "portraittalk/ui/live.py",
           "    go.failure(None, js=STOP_JS, queue=False)", "    pass", (NO_FACE,)),
]
MUTANTS += [
    Mutant("live: head motion restarts on every push", SESSION,
           "        audio.add(samples, sample_rate)\n",
           "        audio.add(samples, sample_rate)\n        motion = self._motion\n"
           "        motion.head = type(motion.head)(self.fps, motion.rig.frame.scale, motion.config, motion.seed)\n",
           (CHUNKINGS,)),
    Mutant("live: a second reference never lends its mouth", SESSION,
           "        if self.sources == 1:\n", "        if True:\n",
           (f"{LIVE_TESTS}::test_a_second_reference_lends_its_shut_mouth_live",)),
    Mutant("live: the head stands still in silence (no head motion stepped)", MOTION,
           "                           moves.head[None].astype(np.float32),\n",
           "                           np.zeros((1, 6), np.float32),\n",
           (f"{LIVE_TESTS}::test_silence_gives_frames_a_resting_mouth_and_a_moving_face",)),
]
MUTANTS += [
    Mutant("live: the face turns flat (the renderer set up without the photo's depth)", MOTION,
           "                           np.zeros((1, 6), np.float32), *np.zeros((3, 1), np.float32), depth=self.depth)",
           "                           np.zeros((1, 6), np.float32), *np.zeros((3, 1), np.float32))",
           (f"{LIVE_TESTS}::test_a_live_frame_is_the_warp_engines_frame_of_its_motion",)),
]
MUTANTS += [
    Mutant("live page alone: the portrait given on the command line not preselected", "portraittalk/ui/live.py",
           "portrait=str(refs[0]), request=request)", "portrait=None, request=request)",
           (f"{LIVE_TAB}::test_portraittalk_live_serves_the_page_alone",)),
    Mutant("live page alone: w2 starts at its default, not the flag's", "portraittalk/ui/live.py",
           'w2 = slider("w2", "w2 · head placement", 0.05, value=controls.w2)',
           'w2 = slider("w2", "w2 · head placement", 0.05)',
           (f"{LIVE_TAB}::test_portraittalk_live_serves_the_page_alone",)),
]

# live-stream: the causal mouth run incrementally (portraittalk/live/mouth_stream.py)
MOUTH_STREAM = "portraittalk/live/mouth_stream.py"
STREAMED = f"{LIVE_TESTS}::test_the_streamed_mouth_is_the_offline_causal_mouth_in_any_chunking"
MUTANTS += [
    Mutant("live mouth stream: the samples the next log-mel frame reads dropped (kept from one frame late)",
           MOUTH_STREAM, "        keep_from = HOP * (self._n_raw - 1)\n", "        keep_from = HOP * self._n_raw\n",
           (STREAMED,)),
    Mutant("live mouth stream: the stream's end pads the network with silence, not the last input as offline",
           MOUTH_STREAM, "np.repeat(cols[:, -1:], missing, axis=1)", "np.zeros((cols.shape[0], missing), cols.dtype)",
           (STREAMED,)),
    Mutant("live mouth stream: the convolutions' past cut short (state not carried far enough back)",
           MOUTH_STREAM, "        lo = max(first - CONV_PAST, 0)\n", "        lo = max(first - CONV_PAST // 2, 0)\n",
           (STREAMED,)),
    Mutant("causal mouth: the pause gate's reference reads past the lookahead (louder frames ahead count)",
           "portraittalk/motion/drivers.py",
           "    padded = np.concatenate([np.full(ref_frames, -np.inf), loudness_db])\n"
           "    windows = np.lib.stride_tricks.sliding_window_view(padded, ref_frames + 1)\n",
           "    padded = np.concatenate([np.full(ref_frames, -np.inf), loudness_db, np.repeat(loudness_db[-1:], 2)])\n"
           "    windows = np.lib.stride_tricks.sliding_window_view(padded, ref_frames + 3)[: len(loudness_db)]\n",
           (STREAMED,)),
]
