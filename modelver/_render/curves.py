"""Training curves as small inline SVG line charts: a run's series, or two runs' series
of one key overlaid (``diff``).

Each chart is self-contained SVG: no scripts, no CSS classes, no links. Lines, axes
and labels use ``currentColor`` (the second series of an overlay is a dashed blue), so
a chart reads in light and dark themes. Every key and label is escaped. A series is
thinned to :data:`DRAW_POINTS` points before drawing (its first, last, lowest and
highest points kept); a NaN or infinite value breaks the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .._series import Point, thin
from .svg import _x

__all__ = ["MAX_CHARTS", "curve_change", "curve_svg", "curves_html", "overlay_html"]

#: Points of one series drawn in a chart (about two per horizontal pixel).
DRAW_POINTS = 600
#: Charts drawn for one run or one diff; the rest are named in a note.
MAX_CHARTS = 24
#: Characters of a key shown as a chart's title (the whole key is in its tooltip).
TITLE_CHARS = 48

WIDTH, HEIGHT = 320, 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 8, 8, 30, 26
_STYLES = ('stroke="currentColor"',
           'stroke="#3b82f6" stroke-dasharray="5 3"')


def _num(value: float) -> str:
    return f"{value:.4g}"


def curve_change(a: Sequence[Point], b: Sequence[Point]) -> str:
    """Two series of one key in a line: ``100 points vs 120, last 0.31 -> 0.29``."""
    def last(points: Sequence[Point]) -> str:
        value = points[-1][1] if points else None
        return "-" if not points else "nan" if value is None else _num(value)

    return f"{len(a):,} points vs {len(b):,}, last {last(a)} -> {last(b)}"


def _segments(points: Sequence[Point]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive finite points: a gap (None) breaks the line."""
    out: list[list[tuple[int, float]]] = [[]]
    for step, value in points:
        if value is None:
            if out[-1]:
                out.append([])
        else:
            out[-1].append((step, value))
    return [s for s in out if s]


def _range(low: float, high: float) -> tuple[float, float]:
    if high > low:
        return low, high
    pad = abs(low) * 0.1 or 1.0
    return low - pad, high + pad


def curve_svg(key: str, series: Sequence[tuple[str, Sequence[Point]]]) -> str:
    """One chart of ``key``: each ``(label, points)`` drawn as a line on shared axes,
    with min and max labels on both; a legend names the series when there are several."""
    drawn = [(label, thin(points, DRAW_POINTS)) for label, points in series]
    finite = [(s, v) for _, points in drawn for s, v in points if v is not None]
    title = key if len(key) <= TITLE_CHARS else key[:TITLE_CHARS - 1] + "…"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_x(key)}" '
             'style="color:inherit;font-family:sans-serif;overflow:visible">',
             f'<title>{_x(key)}</title>',
             f'<text x="{_LEFT}" y="12" font-size="11" font-weight="600" '
             f'fill="currentColor">{_x(title)}</text>']
    x0, x1, y0, y1 = _LEFT + 44, WIDTH - _RIGHT, _TOP, HEIGHT - _BOTTOM
    parts.append(f'<path d="M{x0} {y0}V{y1}H{x1}" fill="none" stroke="currentColor" '
                 'stroke-opacity=".35" stroke-width="1"/>')
    if not finite:
        parts.append(f'<text x="{(x0 + x1) // 2}" y="{(y0 + y1) // 2}" font-size="10" '
                     'text-anchor="middle" fill="currentColor" opacity=".6">no finite '
                     'values</text>')
    else:
        lo_step, hi_step = min(s for s, _ in finite), max(s for s, _ in finite)
        lo_val, hi_val = min(v for _, v in finite), max(v for _, v in finite)
        smin, smax = _range(lo_step, hi_step)
        vmin, vmax = _range(lo_val, hi_val)

        def px(step: float, value: float) -> str:
            x = x0 + (step - smin) / (smax - smin) * (x1 - x0)
            y = y1 - (value - vmin) / (vmax - vmin) * (y1 - y0)
            return f"{x:.1f},{y:.1f}"

        for index, (label, points) in enumerate(drawn):
            style = _STYLES[index % len(_STYLES)]
            for segment in _segments(points):
                if len(segment) == 1:
                    cx, cy = px(*segment[0]).split(",")
                    parts.append(f'<circle cx="{cx}" cy="{cy}" r="1.8" fill="currentColor" '
                                 f'{style}><title>{_x(label)}</title></circle>')
                    continue
                coords = " ".join(px(s, v) for s, v in segment)
                parts.append(f'<polyline points="{coords}" fill="none" {style} '
                             f'stroke-width="1.5" stroke-linejoin="round">'
                             f'<title>{_x(label)}</title></polyline>')
        label_style = 'font-size="9" fill="currentColor" opacity=".75"'
        parts += [
            f'<text x="{x0 - 3}" y="{y0 + 8}" text-anchor="end" {label_style}>'
            f'{_x(_num(hi_val))}</text>',
            f'<text x="{x0 - 3}" y="{y1}" text-anchor="end" {label_style}>'
            f'{_x(_num(lo_val))}</text>',
            f'<text x="{x0}" y="{y1 + 11}" {label_style}>{lo_step}</text>',
            f'<text x="{x1}" y="{y1 + 11}" text-anchor="end" {label_style}>{hi_step}</text>',
            f'<text x="{(x0 + x1) // 2}" y="{y1 + 11}" text-anchor="middle" {label_style}>'
            'step</text>',
        ]
    if len(drawn) > 1:
        left = _LEFT
        for index, (label, _) in enumerate(drawn):
            style = _STYLES[index % len(_STYLES)]
            shown = label if len(label) <= 30 else label[:29] + "…"
            parts.append(f'<line x1="{left}" y1="22" x2="{left + 16}" y2="22" {style} '
                         'stroke-width="1.5"/>'
                         f'<text x="{left + 20}" y="25" font-size="9" fill="currentColor">'
                         f'{_x(shown)}</text>')
            left += 150
    parts.append("</svg>")
    return "".join(parts)


def _charts(svgs: Sequence[str], left_out: int) -> str:
    cells = "".join(f'<div style="display:inline-block;margin:4px 12px 4px 0;'
                    f'vertical-align:top">{svg}</div>' for svg in svgs)
    note = ("" if not left_out else
            f'<div style="opacity:.65">{left_out} more curve{"s" if left_out != 1 else ""}'
            ' not drawn: run.metric_history(key) gives each</div>')
    return f'<div style="color:inherit">{cells}{note}</div>'


def curves_html(series: Mapping[str, Sequence[Point]]) -> str:
    """A run's curves, one chart per key (sorted; at most :data:`MAX_CHARTS`), or ``""``
    when the run logged none."""
    if not series:
        return ""
    keys = sorted(series)
    return _charts([curve_svg(k, [(k, series[k])]) for k in keys[:MAX_CHARTS]],
                   len(keys) - MAX_CHARTS if len(keys) > MAX_CHARTS else 0)


def overlay_html(curves: Mapping[str, tuple[Sequence[Point], Sequence[Point]]],
                 a: str, b: str) -> str:
    """Two runs' curves of each key on one chart, ``a`` solid and ``b`` dashed, with a
    legend; ``""`` when neither run logged a curve."""
    if not curves:
        return ""
    keys = sorted(curves)
    svgs = [curve_svg(k, [(a, curves[k][0]), (b, curves[k][1])]) for k in keys[:MAX_CHARTS]]
    return _charts(svgs, len(keys) - MAX_CHARTS if len(keys) > MAX_CHARTS else 0)
