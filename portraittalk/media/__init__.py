"""Decoding and encoding of user media: images, audio, video."""
from .audio import Audio, load_audio
from .image import load_image
from .video import VideoInfo, VideoWriter, frame_times, probe_video, read_video

__all__ = ["Audio", "load_audio", "load_image", "VideoInfo", "VideoWriter", "frame_times", "probe_video", "read_video"]
