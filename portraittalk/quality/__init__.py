"""Does a generated talking face look broken? A cheap check run on every frame of every generation.

``result.quality`` (a :class:`Quality`) says whether the video was flagged, with one user-facing
sentence per problem and the scores behind them. See :mod:`portraittalk.quality.artifacts`.
"""
from .artifacts import ArtifactCheck, Quality

__all__ = ["ArtifactCheck", "Quality"]
