"""Helpers behind the Gradio app (``app.py``): model manager, job control and result views.

Kept free of Gradio so they can be tested and reused by other front ends.
"""
