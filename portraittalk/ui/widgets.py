"""Widgets bound to one setting of :class:`portraittalk.config.GenerateRequest`."""
from __future__ import annotations

import html
from typing import Any, Optional

import gradio as gr

from ..config import FLAT, GenerateRequest
from ..engines.registry import ENGINES
from ..errors import InputError


class SettingSlider(gr.Slider):
    """Gradio's slider (same look) that checks a value with the package's own rule, so a value sent
    through the API gets the package's message, naming the setting. Made by :func:`setting_slider`.

    ``setting`` is a constructor argument because Gradio rebuilds a component from its constructor
    arguments when an event updates it (a new help line): an attribute set afterwards would be lost.
    """

    is_template = True  # rendered by Gradio's own slider

    def __init__(self, setting: str = "", **kwargs: Any) -> None:
        self.setting = setting
        super().__init__(**kwargs)

    def get_config(self, cls: Optional[type] = None) -> dict[str, Any]:
        return super().get_config(cls or gr.Slider)  # the page knows a slider's properties, not ``setting``

    def preprocess(self, payload: Any) -> Any:
        try:
            GenerateRequest.from_flat({self.setting: payload})
        except InputError as exc:
            message = str(exc)
            raise gr.Error(html.escape(message[:1].upper() + message[1:], quote=False), print_exception=False) from None
        return super().preprocess(payload)


def setting_slider(setting: str, label: str, step: float, minimum: Optional[float] = None,
                   maximum: Optional[float] = None, info: Optional[str] = "", value: Optional[float] = None,
                   **kwargs: Any) -> SettingSlider:  # fmt: skip
    """A slider whose default, range and help come from ``portraittalk.config``; ``minimum``/``maximum``
    may narrow the range the page offers (never widen it), ``value`` starts it elsewhere than the
    default, ``info=None`` drops the help line."""
    spec = FLAT[setting]
    return SettingSlider(setting=setting, minimum=spec.minimum if minimum is None else minimum,
                         maximum=spec.maximum if maximum is None else maximum,
                         value=spec.default if value is None else value, step=step,
                         label=label, info=spec.help if info == "" else info, **kwargs)  # fmt: skip


def engine_info(setting: str, engine: str) -> str:
    """The help line under a setting's widget while ``engine`` renders: that the engine ignores the
    setting (its registry entry's ``ignored_settings``, with its ``summary``), else the setting's own help."""
    for entry in ENGINES:
        if entry.name == engine and setting in entry.ignored_settings:
            return f"Ignored by the {engine} engine: {entry.summary}."
    help_text = FLAT[setting].help
    return help_text[:1].upper() + help_text[1:]
