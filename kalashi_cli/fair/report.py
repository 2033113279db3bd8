"""The evaluation report: one self-contained HTML file (plot embedded) and a JSON twin.

matplotlib is optional (``pip install 'kalashi[report]'``) and imported only here, only when a
plot is drawn; without it the report has the same tables and says the plot is missing.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .evaluate import Score


def reliability_png(scores: Sequence[Score]) -> bytes | None:
    """A reliability diagram (mean p against observed frequency per bin, one line per model), or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 5.5), dpi=100)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfectly calibrated")
    for s in scores:
        if not s.reliability:
            continue
        xs = [float(b["mean_p"]) for b in s.reliability]
        ys = [float(b["observed"]) for b in s.reliability]
        sizes = [10 + 90 * b["n"] / max(1, s.n) for b in s.reliability]
        ax.plot(xs, ys, marker="o", linewidth=1.2, label=f"{s.model} (n={s.n})")
        ax.scatter(xs, ys, s=sizes, alpha=0.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed frequency of YES")
    ax.set_title("Reliability")
    ax.legend(loc="upper left", fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _cell(v: Any) -> str:
    return html.escape("—" if v is None else str(v))


def render_html(scores: Sequence[Score], *, title: str, notes: Sequence[str] = ()) -> str:
    recs = [s.record() for s in scores]
    cols = ["model", "n", "markets", "events", "brier", "log_loss", "brier_vs_mid", "brier_vs_mid_ci", "trades", "pnl"]
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{_cell(r[c] if c != 'brier_vs_mid_ci' or r[c] is None else ' … '.join(r[c]))}</td>" for c in cols
        )
        + "</tr>"
        for r in recs
    )
    rel = []
    for r in recs:
        rows = "".join(
            f"<tr><td>{_cell(b['bin'])}</td><td>{b['n']}</td><td>{_cell(b['mean_p'])}</td>"
            f"<td>{_cell(b['observed'])}</td></tr>"
            for b in r["reliability"]
        )
        rel.append(
            f"<h3>{_cell(r['model'])}</h3><table><tr><th>bin</th><th>n</th><th>mean p</th><th>observed</th></tr>"
            f"{rows}</table>"
        )
    png = reliability_png(scores)
    plot = (
        f'<img alt="reliability diagram" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        if png
        else "<p><em>No plot: matplotlib is not installed (pip install 'kalashi[report]').</em></p>"
    )
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}th{{background:#f4f4f4}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Brier and log loss: lower is better. brier_vs_mid &lt; 0 means better than the market's own mid on the same
snapshots (the interval resamples whole events). pnl: the value strategy after fees, one contract per signal.</p>
<table><tr>{head}</tr>{body}</table>
<ul>{note_html}</ul>
<h2>Reliability</h2>{plot}{"".join(rel)}
</body></html>
"""


def write_report(path: Path, scores: Sequence[Score], *, title: str, notes: Sequence[str] = ()) -> list[Path]:
    """Write the HTML report and its JSON twin (same numbers); return both paths."""
    path.write_text(render_html(scores, title=title, notes=notes), encoding="utf-8")
    twin = path.with_suffix(".json")
    twin.write_bytes(
        orjson.dumps(
            {"title": title, "notes": list(notes), "scores": [s.record() for s in scores]},
            option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
        )
    )
    return [path, twin]
