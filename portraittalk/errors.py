"""Typed errors whose message is written for the user.

The CLI prints ``error: <message>`` and exits 2; the app shows the message in a ``gr.Error``.
Anything that is not a :class:`PortraitTalkError` is a bug and keeps its traceback.
"""
from __future__ import annotations


class PortraitTalkError(Exception):
    """Base class: ``str(err)`` is one sentence telling the user what happened and what to do."""

    exit_code = 2


class InputError(PortraitTalkError):
    """A file or value the user gave cannot be used."""


class ImageError(InputError):
    """An image cannot be decoded or is not acceptable (corrupt, too large, unsupported)."""


class AudioError(InputError):
    """An audio file cannot be decoded or is not acceptable (empty, too long, not audio)."""


class VideoError(InputError):
    """A video cannot be decoded or written."""


class NoFaceError(InputError):
    """No face was found where one is needed."""


class MissingWeightsError(PortraitTalkError):
    """A model component is not in the weights folder."""


class DownloadError(PortraitTalkError):
    """Fetching weights failed (no network, unknown repository, ...)."""


class EngineUnavailableError(PortraitTalkError):
    """The requested render engine cannot run here (weights or hardware missing)."""


class SessionClosedError(PortraitTalkError):
    """A live session was used after it was closed or its stream finished."""


class CancelledError(PortraitTalkError):
    """The user stopped the job."""
