"""State diagrams of a definition: Mermaid text, and SVG (Graphviz ``dot`` when installed, otherwise a
built-in layered layout so the service needs nothing outside Python). The current state can be highlighted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import deque
from html import escape

from workflow.definitions import Definition


def _edges(definition: Definition) -> list[tuple[str, str, str]]:
    edges = []
    for event in definition.events.values():
        if event.supervises:   # 交办/提级办理/催办 from every open state: not steps of the lifecycle itself
            continue
        for source in event.sources:
            edges.append((source, event.target(source), event.label))
    return edges


def mermaid(definition: Definition, current: str | None = None) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {definition.initial}"]
    for name, state in definition.states.items():
        lines.append(f"    {name} : {state.label}")
    for source, target, label in _edges(definition):
        lines.append(f"    {source} --> {target} : {label}")
    for name in sorted(definition.terminal_states):
        lines.append(f"    {name} --> [*]")
    if current:
        lines += ["    classDef current fill:#c0392b,color:#fff,font-weight:bold", f"    class {current} current"]
    return "\n".join(lines) + "\n"


def dot_source(definition: Definition, current: str | None = None, keys: bool = True) -> str:
    lines = ["digraph G {", '  rankdir=LR; node [shape=box style="rounded,filled" fillcolor="#f4f6f8" '
             'fontname="WenQuanYi Micro Hei"]; edge [fontname="WenQuanYi Micro Hei" fontsize=10];']
    for name, state in definition.states.items():
        style = ' fillcolor="#c0392b" fontcolor="white"' if name == current else ""
        shape = " peripheries=2" if state.terminal else ""
        label = f"{state.label}\\n{name}" if keys else state.label
        lines.append(f'  "{name}" [label="{label}"{style}{shape}];')
    for source, target, label in _edges(definition):
        lines.append(f'  "{source}" -> "{target}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines)


def svg(definition: Definition, current: str | None = None, keys: bool = True) -> str:
    """The diagram; ``keys=False`` shows the states' labels only (the web pages), with no identifiers."""
    dot = shutil.which("dot")
    if dot:
        try:
            drawn = subprocess.run([dot, "-Tsvg"], input=dot_source(definition, current, keys), capture_output=True,
                                   text=True, timeout=10, check=True).stdout
            return drawn if keys else re.sub(r"<title>[^<]*</title>|<!--.*?-->", "", drawn, flags=re.S)
        except (subprocess.SubprocessError, OSError):
            pass
    return layered_svg(definition, current, keys)


def _layers(definition: Definition) -> list[list[str]]:
    depth = {definition.initial: 0}
    queue = deque([definition.initial])
    targets: dict[str, list[str]] = {}
    for source, target, _ in _edges(definition):
        targets.setdefault(source, []).append(target)
    while queue:
        name = queue.popleft()
        for target in targets.get(name, []):
            if target not in depth:
                depth[target] = depth[name] + 1
                queue.append(target)
    layers: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for name in definition.states:
        layers[depth.get(name, 0)].append(name)
    return layers


def layered_svg(definition: Definition, current: str | None = None, keys: bool = True) -> str:
    width, height, gap_x, gap_y = 120, 44, 90, 30
    position: dict[str, tuple[int, int]] = {}
    layers = _layers(definition)
    for column, names in enumerate(layers):
        for row, name in enumerate(names):
            position[name] = (20 + column * (width + gap_x), 20 + row * (height + gap_y))
    total_w = 40 + len(layers) * (width + gap_x) - gap_x
    total_h = 40 + max(len(names) for names in layers) * (height + gap_y) - gap_y
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
             f'viewBox="0 0 {total_w} {total_h}" font-family="WenQuanYi Micro Hei, sans-serif" font-size="13">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
             f"<title>{escape(definition.title)}</title>"]
    for source, target, label in _edges(definition):
        (x1, y1), (x2, y2) = position[source], position[target]
        if source == target:
            parts.append(f'<path d="M {x1 + 30} {y1} C {x1 + 30} {y1 - 25}, {x1 + 90} {y1 - 25}, {x1 + 90} {y1}" '
                         f'fill="none" stroke="#888" marker-end="url(#arrow)"><title>{escape(label)}</title></path>')
            continue
        sx, sy = x1 + width, y1 + height // 2
        tx, ty = (x2, y2 + height // 2) if x2 > x1 else (x2 + width // 2, y2 + (height if y2 < y1 else 0))
        parts.append(f'<line x1="{sx}" y1="{sy}" x2="{tx}" y2="{ty}" stroke="#888" marker-end="url(#arrow)">'
                     f"<title>{escape(label)}</title></line>")
        parts.append(f'<text x="{(sx + tx) // 2}" y="{(sy + ty) // 2 - 4}" fill="#555" font-size="11" '
                     f'text-anchor="middle">{escape(label)}</text>')
    for name, state in definition.states.items():
        x, y = position[name]
        is_current = name == current
        fill, color = ("#c0392b", "#fff") if is_current else ("#f4f6f8", "#222")
        stroke = 'stroke-width="3"' if state.terminal else 'stroke-width="1"'
        css = ' class="current"' if is_current else ""
        parts.append(f'<g id="state-{name}"{css}><rect x="{x}" y="{y}" width="{width}" height="{height}" rx="8" '
                     f'fill="{fill}" stroke="#34495e" {stroke}/>'
                     f'<text x="{x + width // 2}" y="{y + 19}" fill="{color}" text-anchor="middle">'
                     f"{escape(state.label)}</text>"
                     + (f'<text x="{x + width // 2}" y="{y + 35}" fill="{color}" font-size="10" '
                        f'text-anchor="middle">{escape(name)}</text>' if keys else "") + "</g>")
    parts.append("</svg>")
    return "".join(parts)
