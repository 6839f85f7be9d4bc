"""Safe loading (安全读取): size limit, format detection by content, container limits.

The format is decided by the bytes, not the name; a name whose extension disagrees with the
content is refused (the sender or the secretary should know what they are sending). Zip
containers (.docx) are checked before anything is decompressed: number of parts, declared
uncompressed size and compression ratio (zip bombs), and every part is read with a cap.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from gongwen_engine.doc_templates.reader.errors import IntakeError

DOCX, TEXT, PDF, OFD = "docx", "text", "pdf", "ofd"
EXTENSIONS = {".docx": DOCX, ".txt": TEXT, ".text": TEXT, ".pdf": PDF, ".ofd": OFD}
FORMAT_NAMES = {DOCX: "Word 文档（.docx）", TEXT: "纯文本（.txt）", PDF: "PDF", OFD: "OFD 版式文件（.ofd）"}
CONVERT_HINT = "请用 Word、WPS 或 LibreOffice 另存为 .docx，或导出为带文字层的 PDF，再重新收文"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value and value.isdigit() else default


@dataclass(frozen=True)
class ReadLimits:
    """Limits for one received file. ``max_bytes`` comes from GONGWEN_RECEIVE_MAX_BYTES (default 20 MiB)."""

    max_bytes: int = field(default_factory=lambda: _env_int("GONGWEN_RECEIVE_MAX_BYTES", 20 * 1024 * 1024))
    max_zip_parts: int = 1000  # a Word document has a few dozen parts
    max_uncompressed: int = 200 * 1024 * 1024  # all parts together, as declared and as read
    max_ratio: int = 200  # uncompressed/compressed per part; text XML compresses ~10x, bombs ~1000x
    max_pdf_pages: int = 500
    max_lines: int = 100_000


def load_file(path: Path, limits: ReadLimits) -> bytes:
    """The file's bytes, refused before reading when it is missing, not a file, empty or too big."""
    if not path.exists():
        raise IntakeError(path.name, "不存在", f"请检查路径 {path}")
    if not path.is_file():
        raise IntakeError(path.name, "不是普通文件", "请选择一个文件（不是文件夹）")
    size = path.stat().st_size
    _check_size(path.name, size, limits)
    data = path.read_bytes()
    _check_size(path.name, len(data), limits)  # it may have changed meanwhile
    return data


def _check_size(name: str, size: int, limits: ReadLimits) -> None:
    if size == 0:
        raise IntakeError(name, "是空文件（0 字节）", "请向发文单位重新索取文件")
    if size > limits.max_bytes:
        raise IntakeError(
            name,
            f"大小 {size / 1048576:.1f} MB，超过收文上限 {limits.max_bytes / 1048576:.1f} MB",
            "请确认是否为公文本身；确需接收时由管理员调大 GONGWEN_RECEIVE_MAX_BYTES",
        )


def _unsupported(name: str, what: str, todo: str = CONVERT_HINT) -> IntakeError:
    return IntakeError(name, what, todo)


def sniff_format(data: bytes, name: str, limits: ReadLimits) -> str:
    """docx | text | pdf | ofd, decided by the content; everything else is refused with what to do."""
    _check_size(name, len(data), limits)
    ext = Path(name).suffix.lower()
    head = data[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise IntakeError(name, "是加密（设有打开密码）的 Word 文件", "请发文单位提供未加密的文件，或在 Word/WPS 中取消密码后另存为 .docx")
        raise _unsupported(name, "是旧版 Word 97-2003（.doc）或 WPS（.wps）格式，暂不支持")
    if head.startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        fmt = PDF
    elif head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        fmt = _zip_kind(data, name, limits)
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM")):
        raise _unsupported(name, "是图片（扫描件），暂不支持", "请先做文字识别（OCR），或向发文单位索取 .docx 或带文字层的 PDF，再重新收文")
    elif head.startswith(b"{\\rtf"):
        raise _unsupported(name, "是 RTF 格式，暂不支持")
    else:
        fmt = TEXT
    expected = EXTENSIONS.get(ext)
    if ext in (".doc", ".wps", ".wpt", ".dot", ".rtf"):
        raise _unsupported(name, f"扩展名 {ext} 的格式暂不支持")
    if expected is None:
        raise IntakeError(
            name, f"的扩展名 {ext or '（无）'} 不是可收文的格式", "可收文的格式：.docx、.txt（UTF-8 或 GB18030/GBK）、带文字层的 .pdf、.ofd；" + CONVERT_HINT
        )
    if expected != fmt:
        right = next(e for e, f in EXTENSIONS.items() if f == fmt)
        raise IntakeError(name, f"扩展名是 {ext}，内容却是{FORMAT_NAMES[fmt]}", f"请确认文件无误后把扩展名改为 {right}，再重新收文")
    return fmt


def _zip_kind(data: bytes, name: str, limits: ReadLimits) -> str:
    names = {info.filename for info in open_zip(data, name, limits).infolist()}
    if "word/document.xml" in names:
        return DOCX
    if "OFD.xml" in names:
        return OFD
    raise _unsupported(name, "是压缩包，不是 Word 文档（缺少 word/document.xml）", "请解压后分别收文，或确认文件是否损坏")


def open_zip(data: bytes, name: str, limits: ReadLimits) -> zipfile.ZipFile:
    """Open a zip container after checking its directory against the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise IntakeError(name, f"已损坏或不完整（压缩包无法打开：{exc}）", "请向发文单位重新索取文件") from None
    if len(infos) > limits.max_zip_parts:
        raise IntakeError(name, f"包含 {len(infos)} 个部件，超过上限 {limits.max_zip_parts}（疑似恶意文件）", "请向发文单位核实并重新索取文件")
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed:
        raise IntakeError(
            name, f"解压后共 {total / 1048576:.0f} MB，超过上限 {limits.max_uncompressed / 1048576:.0f} MB（疑似压缩炸弹）", "请向发文单位核实并重新索取文件"
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise IntakeError(name, "是加密的压缩包", "请发文单位提供未加密的文件")
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise IntakeError(name, f"部件 {info.filename} 的压缩比异常（{ratio} 倍，疑似压缩炸弹）", "请向发文单位核实并重新索取文件")
    return archive


def read_part(archive: zipfile.ZipFile, part: str, name: str, limits: ReadLimits) -> bytes | None:
    """One part of the container, read with a cap (declared sizes may lie); None if absent."""
    try:
        info = archive.getinfo(part)
    except KeyError:
        return None
    cap = min(limits.max_uncompressed, info.file_size) + 1
    try:
        with archive.open(info) as stream:
            data = stream.read(cap)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise IntakeError(name, f"已损坏或不完整（部件 {part} 无法解压：{exc}）", "请向发文单位重新索取文件") from None
    except Exception as exc:  # zlib.error and friends from hostile data
        raise IntakeError(name, f"已损坏或不完整（部件 {part} 无法解压：{type(exc).__name__}）", "请向发文单位重新索取文件") from None
    if len(data) > info.file_size or len(data) > limits.max_uncompressed:
        raise IntakeError(name, f"部件 {part} 解压后超过声明的大小（疑似恶意文件）", "请向发文单位核实并重新索取文件")
    return data
