"""Mutated received files for the fuzz test and the longer campaign (benchmarks/receive_fuzz_campaign.py).

A mutation starts from a valid .docx, .txt or .pdf and flips, inserts, deletes or truncates
bytes, or rewrites one part of the .docx zip. The property: reading it either succeeds or
raises :class:`IntakeError` (a clear Chinese message); any other exception is a failure.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from functools import cache

from samples import attachments_sample

from gongwen_engine.doc_templates.reader import IntakeError, ReadLimits, read_bytes
from gongwen_engine.doc_templates.render import render_docx_bytes

LIMITS = ReadLimits(max_bytes=2 * 1024 * 1024)


@cache
def seeds() -> dict[str, bytes]:
    """Valid files to mutate: a rendered .docx, GBK text, a small PDF with a text layer."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    docx_bytes = render_docx_bytes(attachments_sample())
    text = "湖南省妇女联合会文件\n湘妇发〔2012〕3号\n关于做好信息报送工作的通知\n各市州妇联：\n请于2月下旬报送。\n湖南省妇联\n2012年2月29日\n".encode("gbk")
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    font = DictionaryObject(
        {NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"), NameObject("/BaseFont"): NameObject("/Helvetica")}
    )
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 770 Td (Notice 2012) Tj 0 -20 Td (Receiver:) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return {"x.docx": docx_bytes, "x.txt": text, "x.pdf": out.getvalue()}


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random mutation of ``data``."""
    buf = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and buf:  # flip bytes
        for _ in range(rng.randint(1, 16)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == 1:  # insert random bytes
        at = rng.randrange(len(buf) + 1)
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == 2 and buf:  # delete a slice
        at = rng.randrange(len(buf))
        del buf[at : at + rng.randint(1, 256)]
    elif kind == 3:  # truncate
        del buf[rng.randrange(len(buf) + 1) :]
    elif kind == 4 and data.startswith(b"PK"):  # rewrite one part of the zip with mutated XML
        return _mutate_zip_part(data, rng)
    else:  # duplicate a slice (repeats structures)
        at = rng.randrange(len(buf) + 1)
        buf[at:at] = buf[at : at + rng.randint(1, 512)] * rng.randint(1, 8)
    return bytes(buf)


def _mutate_zip_part(data: bytes, rng: random.Random) -> bytes:
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        parts = {info.filename: source.read(info) for info in source.infolist()}
    except Exception:  # an earlier round broke the zip already: mutate its bytes instead
        return data[: len(data) // 2] + bytes(reversed(data[len(data) // 2 :]))
    if not parts:
        return data
    name = rng.choice(sorted(parts))
    xml = bytearray(parts[name])
    for _ in range(rng.randint(1, 8)):
        if xml:
            xml[rng.randrange(len(xml))] = rng.choice(b"<>&;/\"'=x\x00\xff")
    parts[name] = bytes(xml)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for part, content in parts.items():
            target.writestr(part, content)
    return out.getvalue()


def read_outcome(data: bytes, name: str) -> str:
    """'read' | 'refused'; anything else raises (a failure of the reader)."""
    try:
        read_bytes(data, name, LIMITS)
    except IntakeError:
        return "refused"
    return "read"


Case = tuple[str, bytes]


def cases(rng: random.Random) -> Callable[[], Case]:
    def next_case() -> Case:
        name, data = rng.choice(sorted(seeds().items()))
        for _ in range(rng.randint(1, 3)):
            data = mutate(data, rng)
        return name, data

    return next_case
