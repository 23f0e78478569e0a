"""The HTML report (jinja2): one self-contained page, charts inline as SVG."""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from xml.sax.saxutils import unescape

from jinja2 import Environment, Template, select_autoescape
from markupsafe import Markup

from monitor.reports import charts
from monitor.reports.i18n import Words
from monitor.reports.model import Report, Row
from monitor.reports.present import (
    AGENT_COLUMNS,
    METRICS,
    PEER_METRICS,
    agent_lines,
    cell,
    changes_line,
    cost_table,
    has_business_time,
    methodology,
    outcome,
    peer_lines,
    scope_line,
    scope_name,
    subtitle,
)

_TEMPLATE = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: "DejaVu Sans", "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #334155;
         margin: 0; background: #f8fafc; }
  .page { max-width: 1000px; margin: 0 auto; background: white; padding: 28px 40px 40px;
          border-top: 6px solid #0f172a; }
  h1 { color: #0f172a; font-size: 26px; margin: 8px 0 4px; }
  h2 { color: #0f172a; font-size: 18px; margin: 32px 0 10px; border-bottom: 2px solid #1877f2;
       padding-bottom: 4px; }
  h3 { font-size: 14px; margin: 20px 0 6px; }
  .subtitle { font-size: 15px; margin: 0; }
  .meta { color: #64748b; font-size: 12px; margin: 6px 0 0; }
  .kpis { display: grid; grid-template-columns: repeat({{ kpis|length }}, 1fr); gap: 4px; }
  .kpi { background: #f1f5f9; border-top: 3px solid #1877f2; padding: 10px; }
  .kpi .label { color: #64748b; font-size: 11px; }
  .kpi .value { color: #0f172a; font-size: 21px; font-weight: bold; margin: 4px 0; }
  .change { font-size: 11px; }
  .good { color: #15803d; } .bad { color: #b91c1c; } .neutral { color: #64748b; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th { color: #64748b; font-size: 11px; text-align: right; border-bottom: 2px solid #0f172a; padding: 6px; }
  th:first-child, td:first-child { text-align: left; }
  td { border-bottom: 1px solid #e2e8f0; padding: 5px 6px; text-align: right; vertical-align: middle; }
  td.text { text-align: left; }
  tr.brand td { background: #f1f5f9; font-weight: bold; }
  tr.brand td .change { font-weight: normal; }
  td .sub { color: #64748b; font-size: 10px; }
  .chart svg { width: 100%; height: auto; }
  .method p { font-size: 12px; line-height: 1.5; }
  a { color: #1877f2; }
</style>
</head>
<body><div class="page">
<h1>{{ title }}</h1>
<p class="subtitle">{{ subtitle }}</p>
<p class="meta">{{ meta }}</p>

<h2>{{ w("summary") }}</h2>
<div class="kpis">
{% for k in kpis %}  <div class="kpi"><div class="label">{{ k.label }}</div><div class="value">{{ k.value }}</div>
    {% if k.change %}<div class="change {{ k.tone }}">{{ k.change }}</div>{% endif %}</div>
{% endfor %}</div>
<p class="meta">{{ changes }}</p>

<h2>{{ w("by_brand_channel") }}</h2>
<table>
<tr><th>{{ w("brand") }} / {{ w("channel") }}</th>{% for m in metrics %}<th>{{ m }}</th>{% endfor %}</tr>
{% for r in scope_rows %}<tr class="{{ r.css }}"><td>{{ r.name }}</td>{% for c in r.cells %}<td>{{ c.value }}
{%- if c.change %}<br><span class="change {{ c.tone }}">{{ c.change }}</span>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>

<h2>{{ w("charts") }}</h2>
<h3>{{ w("daily_volume") }}</h3><div class="chart">{{ charts.daily }}</div>
<h3>{{ w("distribution") }}</h3><div class="chart">{{ charts.distribution }}</div>
<h3>{{ w("heatmap") }}</h3><div class="chart">{{ charts.heatmap }}</div>

<h2>{{ w("longest") }}</h2>
{% if longest %}<table>
<tr><th>#</th><th style="text-align:left">{{ w("account") }}</th><th style="text-align:left">{{ w("customer") }}</th>
<th style="text-align:left">{{ w("asked") }}</th><th>{{ w("waited") }}</th>
{%- if business %}<th>{{ w("business_time") }}</th>{% endif %}
<th>{{ w("target") }}</th><th style="text-align:left">{{ w("outcome") }}</th>
<th style="text-align:left">{{ w("link") }}</th></tr>
{% for l in longest %}<tr><td>{{ loop.index }}</td>
<td class="text"><b>{{ l.account }}</b><br><span class="sub">{{ l.kind }}</span></td>
<td class="text">{{ l.customer }}{% if l.reason %}<br><span class="sub">{{ l.reason }}</span>{% endif %}</td>
<td class="text">{{ l.asked }}</td><td><b>{{ l.waited }}</b></td>
{% if business %}<td>{{ l.business }}</td>{% endif %}<td>{{ l.target }}</td>
<td class="text {{ l.tone }}">{{ l.outcome }}</td>
<td class="text">{% if l.url %}<a href="{{ l.url }}">{{ w("open") }}</a>{% else %}–{% endif %}</td></tr>
{% endfor %}</table>{% else %}<p>{{ w("no_waits") }}</p>{% endif %}

<h2>{{ w("by_agent") }}</h2>
<p class="meta">{{ w("agents_note") }}</p>
{% if agents %}<table>
<tr><th>{{ w("team") }} / {{ w("agent") }}</th>{% for c in agent_columns %}<th>{{ w(c) }}</th>{% endfor %}</tr>
{% for a in agents %}<tr class="{{ 'brand' if a.team else '' }}"><td>{{ a.name }}</td>
{% for c in a.cells %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if more_agents %}<p class="meta">+ {{ more_agents }} {{ w("more_agents") }}</p>{% endif %}
{% else %}<p>{{ w("no_answers") }}</p>{% endif %}

<h2>{{ w("per_account") }}</h2>
<table>
<tr><th>{{ w("account") }}</th>{% for m in metrics %}<th>{{ m }}</th>{% endfor %}</tr>
{% for r in account_rows %}<tr><td>{{ r.name }}<br><span class="sub">{{ r.sub }}</span></td>
{% for c in r.cells %}<td>{{ c.value }}</td>{% endfor %}</tr>
{% endfor %}</table>

{% if cost_rows %}<h2>{{ w("x_api_spend") }}</h2>
<table>
<tr>{% for h in cost_header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in cost_rows %}<tr><td>{{ r[0] }}</td>{% for c in r[1:] %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="meta">{{ w("x_api_spend_note") }}</p>{% endif %}

{% if peers %}<h2>{{ w("peers") }}</h2>
<p class="meta">{{ w("peers_intro") }}</p>
<table>
<tr><th>{{ w("brand") }}</th>{% for m in peer_metrics %}<th>{{ m }}</th>{% endfor %}
<th>{{ w("posts_read") }}</th></tr>
{% for r in peers %}<tr class="{{ 'brand' if r.own else '' }}">
<td>{{ r.name }}<br><span class="sub">{{ r.sub }}</span></td>{% for v in r.values %}<td>{{ v }}</td>{% endfor %}
<td>{{ r.reads }}{% if r.note %}<br><span class="sub">{{ r.note }}</span>{% endif %}</td></tr>
{% endfor %}</table>
{% endif %}
<h2>{{ w("methodology") }}</h2>
<div class="method">{% for p in methodology %}<p>{{ p }}</p>{% endfor %}</div>
</div></body>
</html>
"""

_SVG_START = re.compile(r"<svg[\s>]")


@cache
def _template() -> Template:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_TEMPLATE)


def _inline_svg(svg: bytes) -> Markup:
    """matplotlib's SVG without its XML prologue, to put in the page (our own markup: trusted)."""
    text = svg.decode("utf-8")
    match = _SVG_START.search(text)
    return Markup(text[match.start() :] if match else text)


def _rich(text: str) -> Markup:
    """The methodology's own <b>/<i> markup (a fixed text of ours, values escaped for the PDF's
    markup too), kept; anything else escaped."""
    escaped = str(Markup.escape(unescape(text)))
    for tag in ("b", "i"):
        escaped = escaped.replace(f"&lt;{tag}&gt;", f"<{tag}>").replace(f"&lt;/{tag}&gt;", f"</{tag}>")
    return Markup(escaped)


def render_html(report: Report, words: Words) -> bytes:
    """The report as a UTF-8 HTML page."""

    def cells(row: Row) -> list[Any]:
        return [cell(m, row, words) for m in METRICS]

    scope_rows = []
    for brand in report.brands:
        scope_rows.append({"css": "brand", "name": brand.brand, "cells": cells(brand)})
        scope_rows += [
            {"css": "", "name": words.channel(c.channel), "cells": cells(c)}
            for c in report.channels
            if c.brand == brand.brand
        ]
    if len(report.brands) > 1:
        scope_rows.append({"css": "brand", "name": scope_name(report.total, words), "cells": cells(report.total)})
    tz = report.period.timezone
    outcomes = [outcome(w, words, report.as_of) for w in report.longest]
    longest = [
        {
            "account": w.account,
            "kind": f"{words.channel(w.channel)} · {words(w.thread_kind)} · {words(w.kind)}",
            "customer": w.customer_handle or "–",
            "reason": words.reason(w.reason),
            "asked": words.timestamp(w.opened_at, tz),
            "waited": words.duration(w.waited_seconds),
            "business": words.duration(w.business_seconds),
            "target": words.duration(w.target_seconds),
            "outcome": said,
            "tone": tone,
            "url": w.url,
        }
        for w, (said, tone) in zip(report.longest, outcomes, strict=True)
    ]
    title = words("title")
    agents, more_agents = agent_lines(report, words)
    html = _template().render(
        lang=words.language,
        title=title,
        w=words,
        subtitle=subtitle(report, words),
        changes=changes_line(report, words),
        business=has_business_time(report),
        meta=f"{scope_line(report, words)} · {words('generated')} {words.instant(report.as_of, tz)}",
        kpis=[{"label": words(m.key), **vars(cell(m, report.total, words))} for m in METRICS],
        metrics=[words(m.key) for m in METRICS],
        scope_rows=scope_rows,
        longest=longest,
        agents=agents,
        agent_columns=AGENT_COLUMNS,
        more_agents=more_agents,
        account_rows=[
            {"name": a.account, "sub": f"{a.brand} · {words.channel(a.channel)}", "cells": cells(a)}
            for a in report.accounts
        ],
        charts={name: _inline_svg(svg) for name, svg in charts.all_charts(report, words, "svg").items()},
        peers=peer_lines(report, words),
        peer_metrics=[words(m.key) for m in PEER_METRICS],
        methodology=[_rich(p) for p in methodology(report, words)],
        cost_header=cost_table(report, words)[0],
        cost_rows=cost_table(report, words)[1],
    )
    return html.encode("utf-8")
