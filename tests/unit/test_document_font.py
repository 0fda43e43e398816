"""The documents' cut-down font: which characters, in which order, made once into its folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api import document_font

pytestmark = pytest.mark.skipif(not document_font.SYSTEM_FONT.is_file(), reason="needs fonts-wqy-microhei")


def test_the_characters_come_most_used_first_and_cover_gb2312() -> None:
    found = document_font.characters()
    position = {code: index for index, code in enumerate(found)}
    assert found[:95] == list(range(0x20, 0x7F))
    for char in "年月日受理回执编号出具单位盖章联系方式（）：；":   # dates, the templates: before GB 2312's level 1
        assert position[ord(char)] < position[ord("啊")], char
    # GB 2312's hanzi most used first, not in its order (level 1 by pinyin): 王 (wáng) and 鞋 (xié) come early,
    # then the punctuation and symbols, then the rarest (亍, the first of level 2)
    assert position[ord("王")] < position[ord("啊")] < position[ord("鞋")] < position[ord("ａ")] < position[ord("亍")]
    assert len(found) == len(set(found))
    gb2312 = {ord(bytes([row, cell]).decode("gb2312")) for row in range(0xB0, 0xF8) for cell in range(0xA1, 0xFF)
              if (row, cell) not in {(0xD7, cell) for cell in range(0xFA, 0xFF)}}
    assert gb2312 <= set(found)
    ranked = document_font.by_frequency()
    assert len(ranked) == len(set(ranked)) and set(ranked) == gb2312   # the list is GB 2312's hanzi, each once


def test_the_font_keeps_those_characters_numbered_in_their_order(tmp_path: Path) -> None:
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.ttLib import TTFont

    written = tmp_path / "templates.html"
    written.write_text("<p>出具单位</p>", encoding="utf-8")
    codepoints = [ord(char) for char in "出具单位ab"]
    target = tmp_path / "made.ttf"
    document_font.build(document_font.SYSTEM_FONT, target, codepoints)
    font = TTFont(target)
    cmap = font.getBestCmap()
    assert set(cmap) == set(codepoints)
    numbers = [font.getGlyphID(cmap[code]) for code in codepoints]
    # one after the other: each glyph drawn whole (位 is a composite glyph in WenQuanYi), no parts in between
    assert numbers == list(range(1, len(codepoints) + 1)) and "vmtx" not in font
    assert not any(font["glyf"][name].isComposite() for name in font.getGlyphOrder())
    assert "WenQuanYi" in font["name"].getDebugName(1)
    system = TTFont(str(document_font.SYSTEM_FONT), fontNumber=document_font.SYSTEM_FONT_INDEX)
    for char in "出具单位":   # the same outlines and advances as the system font's, its parts drawn in

        def drawn(made: TTFont, char: str = char) -> tuple[Any, int]:
            glyph = made.getGlyphSet()[made.getBestCmap()[ord(char)]]
            pen = DecomposingRecordingPen(made.getGlyphSet())
            glyph.draw(pen)
            return pen.value, glyph.width

        assert drawn(font) == drawn(system), char


def test_the_font_is_made_once_and_again_for_other_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = tmp_path / "template.html"
    written.write_text("出具", encoding="utf-8")
    made: list[Path] = []

    def build(source: Path, target: Path, codepoints: list[int]) -> None:
        made.append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"font")

    monkeypatch.setattr(document_font, "SOURCES", [written])
    monkeypatch.setattr(document_font, "characters", lambda sources=(written,): [ord(c) for c in written.read_text()])
    monkeypatch.setattr(document_font, "build", build)
    folder = tmp_path / "fonts"
    first = document_font.prepared(folder)
    assert first is not None and document_font.prepared(folder) == first and made == [first]
    written.write_text("出具日期", encoding="utf-8")
    second = document_font.prepared(folder)
    assert second != first and made == [first, second] and not first.exists()   # the former one removed
    assert document_font.prepared(folder, tmp_path / "absent.ttc") is None


def test_a_font_that_cannot_be_made_leaves_documents_to_the_whole_font(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def build(source: Path, target: Path, codepoints: list[int]) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(document_font, "build", build)
    assert document_font.prepared(tmp_path / "fonts") is None
