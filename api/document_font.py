"""The Chinese font of the PDF documents, cut down once from the system's WenQuanYi Micro Hei.

WeasyPrint embeds a subset of every font a document uses, made afresh for each document with HarfBuzz from the
font it was given, keeping glyph numbers: from the whole WenQuanYi Micro Hei (49,531 glyphs, 5 MB) that costs as
much as laying out the page, and the copy of the font, its subset and the compression of the subset's tables
(as long as the highest glyph number used) grow with the font. So a document is typeset with a smaller font made
from the system one at first use and kept in a folder (``DOCUMENT_FONT_FOLDER``, by default ``fonts`` in the
instance folder): the characters documents print — those of dates and their templates' and labels' own first, then
GB 2312's 6,763 hanzi most used first (``gb2312_by_frequency.txt``: the common characters of names, addresses and
firms early, where GB 2312 lists its level 1 by pinyin), the punctuation and symbols after the first 3,755 of them
— with its glyphs renumbered in that order and each drawn whole (WenQuanYi builds most hanzi from shared parts,
composite glyphs whose parts would take glyph numbers between the characters), so a document's highest glyph
number stays low.

Nothing is lost with a character outside it: the family of the cut-down font (``FAMILY``) comes first in
``documents.css`` and the system's WenQuanYi Micro Hei after it, so Pango takes any other character from the
whole font, which is then embedded (a subset) as well.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SYSTEM_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")   # Debian's fonts-wqy-microhei
SYSTEM_FONT_INDEX = 0                                                   # WenQuanYi Micro Hei (1: its Mono)
FAMILY = "WenQuanYi Micro Hei Documents"
EDITION = 2   # raise when what goes into the font changes: the file's name changes with it
# Where the characters documents print are written: their templates, the labels and titles they print.
SOURCES = [ROOT / "api" / "templates" / "documents", ROOT / "api" / "documents.py", ROOT / "api" / "ui" / "labels.py",
           ROOT / "definitions"]
DATES = "年月日"   # dates as ``written_date`` writes them, on every document
BY_FREQUENCY = Path(__file__).resolve().parent / "data" / "gb2312_by_frequency.txt"
COMMON = 3755   # as many of the most used hanzi as GB 2312's level 1 has: the punctuation and symbols come after them
SYMBOL_BLOCKS = [(0x20, 0x7F), (0xA0, 0x100), (0x2010, 0x205F), (0x2460, 0x2500), (0x3000, 0x3040),
                 (0xFF00, 0xFFF0)]

_building = threading.Lock()


def _gb2312(first_row: int, last_row: int) -> Iterator[int]:
    """The characters of GB 2312's rows ``first_row``–``last_row`` (0xA1–0xF7), in the standard's order."""
    for row in range(first_row, last_row + 1):
        for cell in range(0xA1, 0xFF):
            try:
                yield ord(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue


def _written(sources: Iterable[Path]) -> Iterator[int]:
    for source in sources:
        files = sorted(source.rglob("*")) if source.is_dir() else [source]
        for file in files:
            if file.is_file() and file.suffix in {".html", ".py", ".yaml"}:
                yield from (ord(char) for char in file.read_text(encoding="utf-8") if char.isprintable())


def by_frequency() -> list[int]:
    """GB 2312's hanzi, most used first (``gb2312_by_frequency.txt``, its lines starting with ``#`` left out)."""
    lines = BY_FREQUENCY.read_text(encoding="utf-8").splitlines()
    return [ord(char) for line in lines if not line.startswith("#") for char in line.strip()]


def characters(sources: Iterable[Path] = SOURCES) -> list[int]:
    """The characters of the cut-down font, most used first: the printable ASCII characters, those of dates, those
    the documents' templates and labels are written with, GB 2312's 3,755 most used hanzi, its symbols, the other
    punctuation and symbol blocks, the rest of its hanzi (and any the list lacks, in GB 2312's order)."""
    hanzi = by_frequency()
    ordered: dict[int, None] = dict.fromkeys(range(0x20, 0x7F))
    ordered.update(dict.fromkeys(ord(char) for char in DATES))
    ordered.update(dict.fromkeys(_written(sources)))
    ordered.update(dict.fromkeys(hanzi[:COMMON]))
    ordered.update(dict.fromkeys(_gb2312(0xA1, 0xA9)))
    for start, stop in SYMBOL_BLOCKS:
        ordered.update(dict.fromkeys(range(start, stop)))
    ordered.update(dict.fromkeys(hanzi[COMMON:]))
    ordered.update(dict.fromkeys(_gb2312(0xB0, 0xF7)))
    return list(ordered)


def font_path(folder: Path, source: Path = SYSTEM_FONT, sources: Iterable[Path] = SOURCES) -> Path:
    """Where the font cut from ``source`` for these characters is kept: named after what it is made from, so a
    new system font, edition or template character makes a new one."""
    stat = source.stat()
    key = f"{EDITION}|{source}|{stat.st_size}|{stat.st_mtime_ns}|{characters(sources)}"
    return folder / f"wqy-documents-{hashlib.sha256(key.encode()).hexdigest()[:16]}.ttf"


def build(source: Path, target: Path, codepoints: list[int]) -> None:
    """Cut ``source`` down to ``codepoints`` (those it has), each glyph drawn whole (no composite glyph: the parts
    nothing else uses are dropped), glyphs renumbered in the codepoints' order, and write it to ``target``
    atomically."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.reorderGlyphs import reorderGlyphs

    font = TTFont(str(source), fontNumber=SYSTEM_FONT_INDEX, lazy=False)
    options = subset.Options()
    options.name_IDs = ["*"]          # the names and the licence stay with the font
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = True
    options.drop_tables += ["FFTM", "vhea", "vmtx"]   # documents are written across

    def cut() -> None:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=codepoints)
        subsetter.subset(font)

    cut()
    _decompose(font)
    cut()   # again, the composite glyphs drawn whole: without the parts nothing else uses

    cmap, order = font.getBestCmap(), font.getGlyphOrder()
    ranked: dict[str, None] = dict.fromkeys(order[:1])   # .notdef stays glyph 0
    ranked.update(dict.fromkeys(cmap[codepoint] for codepoint in codepoints if codepoint in cmap))
    ranked.update(dict.fromkeys(order))
    reorderGlyphs(font, list(ranked))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        font.save(str(partial))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _decompose(font: Any) -> None:
    """Draw each composite glyph of ``font`` whole, its parts' outlines copied in where the glyph placed them: the
    same shapes and advances. Their hinting instructions are lost, which PDFs do not use: WeasyPrint subsets fonts
    without hinting unless told otherwise (its ``hinting`` option)."""
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    glyphs, drawn = font["glyf"], font.getGlyphSet()
    for name in font.getGlyphOrder():
        if glyphs[name].isComposite():
            recording = DecomposingRecordingPen(drawn)
            drawn[name].draw(recording)
            pen = TTGlyphPen(None)
            recording.replay(pen)
            glyphs[name] = pen.glyph()


def prepared(folder: Path, source: Path = SYSTEM_FONT) -> Path | None:
    """The cut-down font in ``folder``, made now if it is not there yet (seconds, once); ``None`` without the
    system font or when it cannot be made (documents are then typeset with the whole font, as Fontconfig finds it)."""
    if not source.is_file():
        LOG.warning("document font %s not found: documents are typeset with the fonts Fontconfig finds", source)
        return None
    target = font_path(folder, source)
    if target.is_file():
        return target
    with _building:
        if not target.is_file():
            LOG.info("making the documents' font %s from %s", target, source)
            try:
                build(source, target, characters())
            except Exception:   # a folder that cannot be written, a font fontTools cannot cut: slower, not lost
                LOG.exception("the documents' font could not be made in %s: the whole font is used", folder)
                return None
            for stale in folder.glob("wqy-documents-*.ttf"):
                if stale != target:
                    stale.unlink(missing_ok=True)
    return target
