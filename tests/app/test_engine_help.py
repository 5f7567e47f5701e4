"""The Engine choice warns before a slow run: the diffusion engine on a server with no GPU."""
from __future__ import annotations

import pytest


def test_the_engine_choice_says_the_diffusion_engine_is_slow_on_this_cpu(app_module, tmp_path):
    """A server whose diffusion engine can run (tiny weights): its help line says what a CPU costs."""
    pytest.importorskip("diffusers")
    from portraittalk.engines.diffusion.tiny import make_tiny_weights
    from portraittalk.ui.manager import ModelManager
    from portraittalk.weights import Weights

    manager = ModelManager(Weights(make_tiny_weights(tmp_path / "weights")))
    assert manager.engine_status()["diffusion"][0], manager.engine_status()
    demo = app_module.build_app(manager=manager, output_root=tmp_path / "outputs")
    info = next(b.info for b in demo.blocks.values() if getattr(b, "elem_id", None) == "engine")
    on_cpu = manager.device_info()["device"] == "cpu"
    assert ("This server has no GPU: the diffusion engine runs on its CPU" in info) == on_cpu, info
    assert ("s per second of speech" in info) == on_cpu, info
