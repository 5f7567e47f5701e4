"""What the browser tests of the app share: where screenshots go, the two screen sizes a creator
uses, and the check that an element is wholly on the screen."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
VIEWPORTS = [pytest.param((1280, 800), id="1280x800"), pytest.param((390, 844), id="390x844")]

IN_VIEW = """sel => { const e = document.querySelector(sel); if (!e) return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0
         && r.bottom <= innerHeight && r.right <= innerWidth; }"""
