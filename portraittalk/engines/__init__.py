"""Render engines: ``warp`` (CPU, no downloads) and ``diffusion`` (the paper); the registry says
which can run and builds them."""
