"""Audio -> per-frame face motion (the MotionTrack every engine renders)."""
from .track import MotionTrack

__all__ = ["MotionTrack"]
