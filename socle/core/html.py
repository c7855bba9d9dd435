"""Pages people read: Jinja2 templates shipped in the package (``socle/templates/``), autoescaped, so that
a value from a school, a poste or a database is always text, never markup."""

from __future__ import annotations

import jinja2


def environment() -> jinja2.Environment:
    """The templates' environment: autoescaped, and an undefined name is an error, not an empty cell."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("socle", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def line_chart(values: list[float | None], *, width: int = 560, height: int = 120, top: float | None = None) -> dict:
    """An SVG polyline's points for a trend (None: no value that month); ``top`` is the axis' maximum
    (the largest value when not given)."""
    known = [v for v in values if v is not None]
    top = top or max(known, default=1) or 1
    step = width / max(1, len(values) - 1)
    points = [(round(i * step, 1), round(height - (v / top) * (height - 10), 1)) for i, v in enumerate(values)
              if v is not None]  # fmt: skip
    return {"points": " ".join(f"{x},{y}" for x, y in points), "dots": points, "top": top, "width": width,
            "height": height}  # fmt: skip
