"""Render engines: ``warp`` (CPU, no downloads) and ``diffusion`` (the paper)."""
