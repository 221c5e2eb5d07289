"""The building blocks of the report pages: units from the metric key names, number
formatting, HTML tables, figures, the page with its inline CSS, and the atomic page write.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fem.output.files import atomic_write_text

logger = logging.getLogger(__name__)


#: Key suffix -> unit, longest suffixes first so that ``_ms`` wins over ``_s``.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_J_per_cm2", "J/cm²"),
    ("_kg_per_m3", "kg/m³"),
    ("_J_per_kgK", "J/(kg·K)"),
    ("_W_per_m2K", "W/(m²·K)"),
    ("_W_per_mK", "W/(m·K)"),
    ("_W_per_kg", "W/kg"),
    ("_per_cm2", "cm⁻²"),
    ("_per_cm", "cm⁻¹"),
    ("_per_K", "K⁻¹"),
    ("_per_s", "s⁻¹"),
    ("_percent", "%"),
    ("_deg", "°"),
    ("_nm", "nm"),
    ("_um3", "µm³"),
    ("_um2", "µm²"),
    ("_mm2", "mm²"),
    ("_kPa", "kPa"),
    ("_MPa", "MPa"),
    ("_Pa", "Pa"),
    ("_um", "µm"),
    ("_mm", "mm"),
    ("_ms", "ms"),
    ("_days", "days"),
    ("_h", "h"),
    ("_mJ", "mJ"),
    ("_mW", "mW"),
    ("_J", "J"),
    ("_W", "W"),
    ("_C", "°C"),
    ("_K", "K"),
    ("_s", "s"),
)

_WORDS = {
    "mtz": "MTZ",
    "dofs": "DOFs",
    "mend": "MEND",
    "mises": "Mises",
    "von": "von",
    "rms": "RMS",
    "max": "max",
}

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       margin: 0 auto; max-width: 1250px; padding: 1em 2em 3em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.sub { color: #666; font-size: 0.9em; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.93em; }
th, td { border: 1px solid #d5d5d5; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.headline td.num { font-size: 1.15em; font-weight: 600; }
code { font-size: 0.88em; color: #555; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: min(100%, 1100px); border: 1px solid #ddd; }
figcaption { max-width: 1000px; color: #333; font-size: 0.93em; margin-top: 0.4em; }
figcaption b { color: #000; }
pre { background: #f6f8fa; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto;
      font-size: 0.85em; line-height: 1.35; }
.missing { color: #a33; font-style: italic; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
        gap: 0 1.5em; }
.figs figure { margin: 0.8em 0 1.2em; }
.figs figure img { width: 100%; }
iframe.view3d { width: 100%; max-width: 1100px; height: 640px; border: 1px solid #ddd; }
.row { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure.thumb { margin: 0.3em 0; width: 300px; }
figure.thumb img { width: 300px; }
figure.thumb figcaption { text-align: center; }
.warnings { background: #fff4e0; border: 2px solid #e08a00; border-radius: 4px; color: #5a3800;
            padding: 0.6em 1em; margin: 1em 0 1.5em; }
.warnings h2 { border: none; margin: 0 0 0.3em; padding: 0; font-size: 1.15em; color: #a34f00; }
.warnings ul { margin: 0.2em 0; padding-left: 1.3em; }
"""


def split_unit(key: str) -> tuple[str, str]:
    """Split a metric key into a readable label and its unit.

    Args:
        key: A metric name whose suffix gives the unit, e.g. ``mtz_depth_um``.

    Returns:
        ``(label, unit)``, e.g. ``("MTZ depth", "µm")``; the unit is ``""``
        for dimensionless keys.
    """
    unit = ""
    stem = key
    for suffix, name in UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            stem, unit = key[: -len(suffix)], name
            break
    words = [_WORDS.get(w.lower(), w) for w in stem.split("_") if w]
    label = " ".join(words)
    if label and label[0].islower() and not label.startswith("von"):
        label = label[0].upper() + label[1:]
    return label or key, unit


def key_header(key: str) -> str:
    """The ``<th>`` of a table column named by its key, the key's unit under it."""
    _, unit = split_unit(key)
    unit_html = f'<br><span class="sub">{_esc(unit)}</span>' if unit else ""
    return f"<th>{_esc(key)}{unit_html}</th>"


def format_number(value: Any) -> str:
    """Format a metric value with 4 significant digits (integers as they are).

    Args:
        value: A number (or anything else, shown as text).

    Returns:
        Plain text (not yet HTML-escaped), with exponents written as
        ``× 10⁻⁵``.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:.4g}"
        if "e" in text:
            mant, _, exp = text.partition("e")
            return f"{mant} × 10{str(int(exp)).translate(_SUPERSCRIPT)}"
        return text
    if isinstance(value, (list, tuple)):
        return ", ".join(format_number(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num_cell(value: Any) -> str:
    cls = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td{cls}>{_esc(format_number(value))}</td>"


def _metrics_table(metrics: Mapping[str, Any], keys: Iterable[str], css: str = "") -> str:
    """The metrics ``keys`` as a table (quantity, value, unit); each name has its glossary
    definition (:func:`fem.post.glossary.lookup`) as a tooltip."""
    from fem.post.glossary import lookup

    rows = []
    for key in keys:
        label, unit = split_unit(key)
        entry = lookup(key)
        tip = f' title="{_esc(entry.definition)}" style="cursor: help"' if entry else ""
        rows.append(
            f"<tr><td{tip}>{_esc(label)}<br><code>{_esc(key)}</code></td>"
            f"{_num_cell(metrics[key])}<td>{_esc(unit)}</td></tr>"
        )
    cls = f' class="{css}"' if css else ""
    return (
        f"<table{cls}><thead><tr><th>Quantity</th><th>Value</th><th>Unit</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _kv_table(items: Mapping[str, Any], head: tuple[str, str] = ("Key", "Value")) -> str:
    rows = []
    for key, value in items.items():
        cell = f"<td>{_kv_table(value)}</td>" if isinstance(value, Mapping) else _num_cell(value)
        rows.append(f"<tr><td>{_esc(key)}</td>{cell}</tr>")
    return (
        f"<table><thead><tr><th>{_esc(head[0])}</th><th>{_esc(head[1])}</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def warning_list(value: Any) -> list[str]:
    """The warnings of ``metrics.json`` (a list of strings; absent in older results) as a
    list of non-empty strings: a lone string is one warning, anything else none."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return []
    return [str(w).strip() for w in value if isinstance(w, str) and w.strip()]


def warnings_box(warnings: Iterable[str], title: str = "Warnings") -> str:
    """A box for the top of a page listing ``warnings`` (already plain text); "" if none."""
    items = [w for w in warnings if w]
    if not items:
        return ""
    rows = "".join(f"<li>{_esc(w)}</li>" for w in items)
    return (f'<div class="warnings" id="warnings" role="alert"><h2>{_esc(title)} '
            f"({len(items)})</h2><ul>{rows}</ul></div>\n")


def _figure(src: str, title: str, caption: str) -> str:
    return (
        f'<figure><a href="{_esc(src)}"><img src="{_esc(src)}" alt="{_esc(title)}"></a>'
        f"<figcaption><b>{_esc(title)}.</b> {caption}</figcaption></figure>"
    )


def _page(title: str, subtitle: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<h1>{_esc(title)}</h1>\n<p class="sub">{subtitle}</p>\n{body}\n</body>\n</html>\n'
    )


def _write_page(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`~fem.output.files.atomic_write_text`).

    A ``path.tmp`` left by a failed write is removed; the written page is logged.
    """
    try:
        atomic_write_text(path, text)
    except BaseException:
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)
        raise
    logger.info("wrote %s", path)
    return path


def _now() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
