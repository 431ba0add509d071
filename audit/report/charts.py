"""Charts as inline SVG: pure functions from counts to markup, no script, no external asset.

Owns the report's four charts: verdicts by cause (horizontal bars), the probe answers'
sizes (a histogram of bytes on a log scale, stacked by probe verdict, where the short-WAV
cluster stands apart), compliance across runs (a line of the compliant share with the
non-compliant count per run), and usage of non-compliant voices (bars, only when usage
numbers exist). Every label is escaped; each chart has a <title> for screen readers. Every
value carries its unit (voices, calls, characters, bytes, % compliant). The SVG is drawn at its
natural width (`_W` px, text `FONT_PX`) and only ever shrinks to fit its box, so its text reads at
`FONT_PX` wherever a chart has room (two charts side by side in a 1400 px window).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from audit.compliance.changes import TrendPoint
from audit.core.models import ProbeVerdict, Verdict
from audit.report.tables import Cause

COLOURS: dict[str, str] = {
    Cause.SHORT_WAV: "#b3261e", Cause.SILENT: "#d9534f", Cause.FAILED_CLONE: "#7b1fa2", Cause.PENDING: "#8a5a00",
    Cause.PROBE_ERROR: "#e0a100", Cause.LEGACY_METADATA: "#c2185b", Cause.NO_METADATA: "#9e9e9e",
    ProbeVerdict.SPEAKS: "#1b6e20", ProbeVerdict.ERROR: "#e0a100", ProbeVerdict.NOT_PROBED: "#9e9e9e",
}
_W = 560
#: Text size of every chart, in SVG units (= CSS px at natural size).
FONT_PX = 13


def _svg(height: int, title: str, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {_W} {height}" role="img" width="{_W}" height="{height}" '
        f'font-size="{FONT_PX}" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>{body}</svg>'
    )


def bars(counts: Mapping[str, int], title: str, colour: str | None = None, unit: str = "voices") -> Markup | None:
    """One horizontal bar per key (causes, or voices by usage), each value labelled with its `unit`;
    `colour` for every bar, else by key."""
    items = [(k, v) for k, v in counts.items() if v]
    if not items:
        return None
    top = max(v for _, v in items)
    row, label_w = 22, 140
    parts = []
    for i, (key, value) in enumerate(items):
        y = 4 + i * row
        w = max(2.0, (_W - label_w - 160) * value / top)
        fill = colour or COLOURS.get(key, "#5f6368")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(key)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="16" fill="{fill}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{value:,} {escape(unit)}</text>'
        )
    return _svg(8 + len(items) * row, title, "".join(parts))


def size_histogram(sizes: Sequence[tuple[int, str]], title: str) -> Markup | None:
    """(bytes, probe verdict) per probed voice → bins of ×2 on a log scale, stacked by verdict."""
    sizes = [(b, v) for b, v in sizes if b is not None and b > 0]
    if not sizes:
        return None
    bins: dict[int, dict[str, int]] = {}
    for n_bytes, verdict in sizes:
        bins.setdefault(int(math.log2(n_bytes)), {}).setdefault(verdict, 0)
        bins[int(math.log2(n_bytes))][verdict] += 1
    lo, hi = min(bins), max(bins)
    n_bins = hi - lo + 1
    top = max(sum(b.values()) for b in bins.values())
    plot_h, base, left = 140, 170, 70
    width = (_W - left - 10) / n_bins
    parts = [f'<line x1="{left}" y1="{base}" x2="{_W - 10}" y2="{base}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{base - plot_h + 10}" text-anchor="end">{top:,}</text>',
             f'<text x="{left - 4}" y="{base - plot_h + 26}" text-anchor="end">voices</text>',
             f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>']
    for i in range(n_bins):
        x = left + i * width
        y = float(base)
        for verdict, count in sorted(bins.get(lo + i, {}).items()):
            h = plot_h * count / top
            y -= h
            parts.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(1.0, width - 2):.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS.get(verdict, "#5f6368")}"><title>{escape(verdict)}: {count:,} '
                         f'({_bytes(2 ** (lo + i))}–{_bytes(2 ** (lo + i + 1))})</title></rect>')
        if i % max(1, n_bins // 6) == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 16}">{_bytes(2 ** (lo + i))}</text>')
    parts.append(f'<text x="{left - 4}" y="{base + 16}" text-anchor="end">size:</text>')
    legend = sorted({v for _, v in sizes})
    for i, verdict in enumerate(legend):
        parts.append(f'<rect x="{left + i * 110}" y="{base + 27}" width="11" height="11" '
                     f'fill="{COLOURS.get(verdict, "#5f6368")}"/><text x="{left + 15 + i * 110}" '
                     f'y="{base + 37}">{escape(verdict)}</text>')
    return _svg(base + 44, title, "".join(parts))


def trend(points: Sequence[TrendPoint], title: str) -> Markup | None:
    """Compliant share per run (line, left axis 0-100 %) with the non-compliant count as labels."""
    if not points:
        return None
    left, top_y, h = 96, 12, 130
    step = (_W - left - 30) / max(1, len(points) - 1)
    coords = [(left + i * step if len(points) > 1 else left + (_W - left) / 2, top_y + h * (1 - p.compliant_share))
              for i, p in enumerate(points)]
    parts = [f'<line x1="{left}" y1="{top_y + h}" x2="{_W - 10}" y2="{top_y + h}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top_y + 4}" text-anchor="end">100 %</text>',
             f'<text x="{left - 4}" y="{top_y + h / 2 + 4}" text-anchor="end">compliant</text>',
             f'<text x="{left - 4}" y="{top_y + h}" text-anchor="end">0 %</text>',
             f'<text x="{left - 4}" y="{top_y + h + 18}" text-anchor="end">scan of</text>']
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1b6e20" stroke-width="2"/>')
    for (x, y), p in zip(coords, points, strict=True):
        bad = p.counts.get(Verdict.NON_COMPLIANT, 0)
        parts.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1b6e20"><title>{escape(p.at)}: '
            f'{p.compliant_share:.0%} compliant, {bad:,} non-compliant of {p.total:,}</title></circle>'
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">{p.compliant_share:.0%}</text>'
            f'<text x="{x:.1f}" y="{top_y + h + 18}" text-anchor="middle">{escape(p.at[5:10])}</text>'
        )
    return _svg(top_y + h + 26, title, "".join(parts))


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} GB"
