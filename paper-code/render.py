"""Notebook markdown as HTML for index.html: mistune (which nbconvert ships) for the markdown, and
matplotlib's mathtext for the math, drawn as inline SVG, so the page reads offline with no
JavaScript. A formula mathtext cannot draw is shown as its TeX source in <code>."""
from __future__ import annotations

import base64
import functools
import html
import io

import mistune
from matplotlib import mathtext
from matplotlib.font_manager import FontProperties


@functools.lru_cache(maxsize=None)
def math_svg(tex: str, display: bool = False) -> str:
    """An <img> of the formula ``tex`` (without dollars), or <code> of its source."""
    buf = io.BytesIO()
    try:
        mathtext.math_to_image(f"${tex.strip()}$", buf, prop=FontProperties(size=13 if display else 11),
                               format="svg", dpi=72)
    except (ValueError, RuntimeError):
        return f"<code>{html.escape(tex)}</code>"
    data = base64.b64encode(buf.getvalue()).decode()
    style = "display:block;margin:0.5em auto" if display else "vertical-align:middle"
    return f"<img class='math' style='{style}' alt='{html.escape(tex, quote=True)}' src='data:image/svg+xml;base64,{data}'>"


def _markdown():
    md = mistune.create_markdown(escape=True, plugins=["math", "table"])
    md.renderer.register("inline_math", lambda renderer, text: math_svg(text))
    md.renderer.register("block_math", lambda renderer, text: math_svg(text, display=True))
    return md


_MD = _markdown()


def markdown_html(text: str) -> str:
    """``text`` (a notebook's markdown, raw HTML escaped) as HTML."""
    return _MD(text)
