"""Plausible bugs in what the media readers and writer refuse and how they leave the output."""
from __future__ import annotations

from mutation.mutate import Mutant

MODE_TEST = "tests/test_cli.py::test_the_video_gets_the_mode_of_any_file_the_user_creates"

MUTANTS = [
    Mutant("media: the video keeps a temporary file's owner-only mode", "portraittalk/media/video.py",
           "os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)", "os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)",
           (MODE_TEST,)),
    Mutant("media: an oversize image gets Pillow's decompression-bomb words", "portraittalk/media/image.py",
           '        warnings.simplefilter("ignore", Image.DecompressionBombWarning)\n',
           '        warnings.simplefilter("error", Image.DecompressionBombWarning)\n', ("tests/test_media_image.py",)),
    Mutant("media: the size that fits ignores the image's shape", "portraittalk/media/image.py",
           "math.isqrt(max_pixels * width // height)", "math.isqrt(max_pixels)", ("tests/test_media_image.py",)),
    Mutant("media: no minimum speech length", "portraittalk/media/audio.py",
           "    if duration < min_seconds or samples.size == 0:\n", "    if samples.size == 0:\n",
           ("tests/test_media_audio.py",)),
    Mutant("media: a cancelled generation keeps its frames file", "portraittalk/pipeline.py",
           "            rendered.discard()\n", "", ("tests/test_warp_and_api.py::test_cancel_stops_and_leaves_nothing",)),
    Mutant("media: result.frames decoded back out of the MP4", "portraittalk/pipeline.py",
           "return np.stack(list(self.iter_frames())) if self.full_frame else self.rendered.frames",
           "from .media import read_video\n        return np.stack([f for _, f in read_video(self.video_path)])",
           ("tests/test_warp_and_api.py::test_a_generation_applies_the_controls_once",)),
]
