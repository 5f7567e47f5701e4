"""What the page may show of a server-side message: no server paths.

The package's messages name folders and files where a terminal user needs them ("expected in
/srv/app/weights/sd15"); a web visitor needs what is missing and how to get it, never the server's
layout. Everything the app shows from the package goes through :func:`public_text`.
"""
from __future__ import annotations

import re
from pathlib import Path

# An absolute path: a slash not preceded by a word character, a dot, a colon or another slash (so
# "w1/w2", "docs/app.md" and "https://host/x" stay), then at least one more slash-separated part.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.+@~-]+/)+[\w.+@~-]*")


def public_text(text: str, weights_root: Path) -> str:
    """``text`` with the weights folder named in words and every other absolute path cut to its name."""
    root = str(weights_root).rstrip("/")
    text = re.sub(re.escape(root) + r"(?:/[\w.+@~-]+)*", "the server's weights folder", text)
    return _ABSOLUTE_PATH.sub(lambda m: Path(m.group(0)).name or "a server folder", text)
