"""Helpers shared by scripts/bench_report.py and its section modules: readable numbers,
hand-written SVG bar charts, running a command."""
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ROOT / "benchmarks"


def human(v):
    """A readable number: 149k, 2.35M, 0.98 (never 1.49e+05)."""
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


def bar_chart(path, title, groups, unit, reference=None, notes=None):
    """A horizontal bar chart as hand-written SVG.

    groups: [(label, [(series, value)])]; one row of bars per group. `reference`, if given,
    draws a dashed line at that value (for ratio charts: 1.0). `notes`, if given, maps a
    group label to a text printed after its last bar's value (the figures behind a ratio).
    """
    series = []
    for _, bars in groups:
        for name, _ in bars:
            if name not in series:
                series.append(name)
    colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"]
    bar_h, gap, left, width = 14, 10, 210, 420
    right = 230 if notes else 90
    rows = sum(len(b) for _, b in groups)
    height = 50 + rows * bar_h + len(groups) * gap + 20 * len(series) + 20
    top = max([v for _, b in groups for _, v in b] + [reference or 0]) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + right}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{esc(title)}</text>']
    y = 40
    if reference:
        # Under the bars and labels: a label that crosses the line stays readable on the
        # white box drawn behind it.
        x = left + reference / top * width
        end = y + rows * bar_h + len(groups) * gap
        out.append(f'<line x1="{x:.1f}" y1="32" x2="{x:.1f}" y2="{end}" stroke="#333" stroke-dasharray="4 3"/>')
    for label, bars in groups:
        out.append(f'<text x="{left - 8}" y="{y + bar_h * len(bars) / 2 + 4:.0f}" text-anchor="end">{esc(label)}</text>')
        for i, (name, v) in enumerate(bars):
            c = colors[series.index(name) % len(colors)]
            wpx = max(1, v / top * width)
            note = f"  {notes[label]}" if notes and label in notes and i == len(bars) - 1 else ""
            out.append(f'<rect x="{left}" y="{y}" width="{wpx:.1f}" height="{bar_h - 2}" fill="{c}"><title>{esc(name)}: {human(v)}</title></rect>')
            text = f"{human(v)}{unit}{note}"
            # About 6.2 px a character at 11 px sans-serif.
            out.append(f'<rect x="{left + wpx + 2:.1f}" y="{y}" width="{len(text) * 6.2 + 4:.0f}" height="{bar_h - 2}" fill="white"/>')
            out.append(f'<text x="{left + wpx + 4:.1f}" y="{y + bar_h - 4}">{esc(text)}</text>')
            y += bar_h
        y += gap
    for i, name in enumerate(series):
        yy = y + 10 + i * 20
        out.append(f'<rect x="{left}" y="{yy}" width="12" height="12" fill="{colors[i % len(colors)]}"/>')
        out.append(f'<text x="{left + 18}" y="{yy + 10}">{esc(name)}</text>')
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def read_json(path):
    return json.loads(path.read_text()) if path.exists() else None
