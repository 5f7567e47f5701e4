"""Widgets bound to one setting of :class:`portraittalk.config.GenerateRequest`."""
from __future__ import annotations

import html
from typing import Any, Optional

import gradio as gr

from ..config import FLAT, GenerateRequest
from ..errors import InputError


class SettingSlider(gr.Slider):
    """Gradio's slider (same signature, same look) that checks a value with the package's own rule,
    so a value sent through the API gets the package's message, naming the setting. Made by
    :func:`setting_slider`."""

    is_template = True  # rendered by Gradio's own slider
    setting = ""

    def preprocess(self, payload: Any) -> Any:
        try:
            GenerateRequest.from_flat({self.setting: payload})
        except InputError as exc:
            message = str(exc)
            raise gr.Error(html.escape(message[:1].upper() + message[1:], quote=False), print_exception=False) from None
        return super().preprocess(payload)


def setting_slider(setting: str, label: str, step: float, minimum: Optional[float] = None,
                   maximum: Optional[float] = None, info: Optional[str] = "", **kwargs: Any) -> SettingSlider:  # fmt: skip
    """A slider whose default, range and help come from ``portraittalk.config``; ``minimum``/``maximum``
    may narrow the range the page offers (never widen it), ``info=None`` drops the help line."""
    spec = FLAT[setting]
    slider = SettingSlider(spec.minimum if minimum is None else minimum, spec.maximum if maximum is None else maximum,
                           spec.default, step=step, label=label, info=spec.help if info == "" else info,
                           **kwargs)  # fmt: skip
    slider.setting = setting
    return slider
