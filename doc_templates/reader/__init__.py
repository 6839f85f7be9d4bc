"""Reading received documents (收文识别): the inverse of the renderer.

A file from outside is hostile until read safely. :mod:`.loading` checks size, format and
container limits; :mod:`.extract` turns .docx, plain text (UTF-8, GB18030/GBK) and PDF with a
text layer into numbered lines that remember where they came from; :mod:`.structure` reads the
GB/T 9704 parts (header, body, colophon) from those lines, each field with its source, a
confidence and warnings; :mod:`.deadlines` finds the reporting deadlines stated in the text.

Public API::

    read_file(path, limits) -> Reading       # IntakeError (a ValueError, message in Chinese) on bad input
    read_bytes(data, name, limits) -> Reading
    read_text(data, name) -> list[str]       # the lines of text only, for the archive search index
"""

from __future__ import annotations

from pathlib import Path

from gongwen_engine.doc_templates.reader.errors import IntakeError
from gongwen_engine.doc_templates.reader.extract import extract_lines, pdf_active_content
from gongwen_engine.doc_templates.reader.loading import ReadLimits, load_file, sniff_format
from gongwen_engine.doc_templates.reader.structure import Field, Part, Reading, parse_lines

__all__ = ["Field", "IntakeError", "Part", "ReadLimits", "Reading", "read_bytes", "read_file", "read_text", "sniff_format"]


def read_bytes(data: bytes, name: str, limits: ReadLimits | None = None) -> Reading:
    """Read a received file's bytes (``name`` gives its extension and is used in messages)."""
    limits = limits or ReadLimits()
    fmt = sniff_format(data, name, limits)
    lines, warnings = extract_lines(data, name, fmt, limits)
    reading = parse_lines(lines)
    reading.format = fmt
    reading.warnings[:0] = warnings
    if fmt == "pdf" and (active := pdf_active_content(data)):
        reading.active_content = active
        reading.warnings.append(
            f"PDF 含有活动内容：{'、'.join(active)}。原件按原样存档，系统不执行、不在浏览器中直接打开；请勿用会执行脚本的阅读器打开，必要时向发文单位核实"
        )
    if not reading.has_text:
        raise IntakeError(name, "没有可读的文字", "请确认文件内容；扫描件请先做文字识别（OCR），或向发文单位索取 .docx 或带文字层的 PDF")
    return reading


def read_file(path: Path, limits: ReadLimits | None = None) -> Reading:
    """Read a received file from disk (size-checked before it is read into memory)."""
    return read_bytes(load_file(Path(path), limits or ReadLimits()), Path(path).name, limits)


def read_text(data: bytes, name: str) -> list[str]:
    """The non-blank lines of a file read before (at receipt), in order, without reading its parts.
    Only the size limit is lifted: a file accepted at receipt is not refused later because the
    configured maximum has been lowered since."""
    limits = ReadLimits(max_bytes=len(data))
    lines, _ = extract_lines(data, name, sniff_format(data, name, limits), limits)
    return [line.text for line in lines if line.text.strip()]
