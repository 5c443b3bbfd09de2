"""Helpers for view tests."""

import html


def text(response) -> str:
    """The body, with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))
