"""Bad transfer packages (移交包) for ``import_package`` / ``gongwen archive import``: paths with
``../`` or absolute, a forged manifest (digests not matching, files missing, extra files, wrong
counts), a zip bomb, duplicated entries, broken JSON and wrong types, random byte damage.

The property for every case: the package is imported whole, or refused with a Refusal whose
message is Chinese — and then the database is unchanged (items, counters, search index) and no
file was written anywhere under the test folder. A valid package is imported (inside a
transaction that is then rolled back: the rollback must remove the files it wrote).
"""

from __future__ import annotations

import io
import json
import random
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bad_input_common import Tally
from samples import attachments_sample
from sqlalchemy import func
from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.archive_files import digests
from gongwen_engine.doc_templates.render import render_docx_bytes
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.archive_exports import ITEM_METADATA, PACKAGE_FORMAT, PACKAGE_MANIFEST, import_package
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models import db
from gongwen_engine.models.tables import ArchiveItem, ArchiveSearch, NumberCounter

FONDS = "S037"  # 山东省妇联's fonds: shandong_archivist receives it
CHINESE = re.compile(r"[\u4e00-\u9fff]")
Entries = list[tuple[str, bytes]]  # a package as (name, bytes) in zip order; duplicates allowed


class RolledBack(Exception):
    """Raised inside the transaction of an accepted package, so every case starts from the same database."""


def valid_entries(items: int = 2) -> Entries:
    """A sound package of ``items`` items, each with a rendered .docx and a text file."""
    docx = render_docx_bytes(attachments_sample())
    entries: Entries = []
    codes, total = [], 0
    for n in range(1, items + 1):
        code = f"{FONDS}-WS·2012-Y-BGS-{n:04d}"
        codes.append(code)
        files = {"01-正本.docx": docx, "02-说明.txt": f"第{n}件的说明。".encode()}
        meta = {
            "档号": code,
            "全宗号": FONDS,
            "年度": 2012,
            "保管期限": "Y",
            "机构或问题": "BGS",
            "室编件号": n,
            "题名": f"关于第{n}件的通知",
            "文件编号": f"鲁妇发〔2012〕{n}号",
            "责任者": "山东省妇女联合会",
            "日期": "20120131",
            "密级": None,
            "页数": 2,
            "文种": "通知",
            "备注": None,
            "机构代码": "shandong",
            "归档时间": "2012-02-01T00:00:00+00:00",
            "电子文件": [
                {
                    "顺序号": i,
                    "角色": "issued_copy",
                    "格式": name.rsplit(".", 1)[1],
                    "计算机文件名": name,
                    "大小": len(data),
                    "页数": 1,
                    "页数来源": "declared",
                    "加盖归档章": False,
                    "固化信息": [{"算法": "SHA-256", "值": digests(data).sha256}, {"算法": "SM3", "值": digests(data).sm3}],
                }
                for i, (name, data) in enumerate(files.items(), 1)
            ],
            "处理过程": [{"at": "2012-01-31T00:00:00", "actor": "shandong_secretary", "action": "launch", "detail": {}}],
        }
        entries.append((f"{code}/{ITEM_METADATA}", _json(meta)))
        entries += [(f"{code}/{name}", data) for name, data in files.items()]
        total += sum(len(d) for d in files.values())
    manifest = {"format": PACKAGE_FORMAT, "全宗号": FONDS, "年度": 2012, "件数": items, "字节数": total, "档号": codes, "created": "2012-02-01T00:00:00+00:00"}
    return [*entries, (PACKAGE_MANIFEST, _json(manifest))]


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def zip_bytes(entries: Entries) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": duplicated entries are a case
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in entries:
                z.writestr(name, data)
    return out.getvalue()


def _edit_json(entries: Entries, name: str, edit: Callable[[Any], Any]) -> Entries:
    return [(n, _json(edit(json.loads(d))) if n == name else d) for n, d in entries]


def _first_item(entries: Entries) -> str:
    return next(n for n, _ in entries if n.endswith(ITEM_METADATA)).rsplit("/", 1)[0]


def _set(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda data: {**data, key: value}


def _drop(key: str) -> Callable[[Any], Any]:
    return lambda data: {k: v for k, v in data.items() if k != key}


def _file_field(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda meta: {**meta, "电子文件": [{**meta["电子文件"][0], key: value}, *meta["电子文件"][1:]]}


def named_cases() -> dict[str, Entries | bytes]:
    """Every attack the brief names, each once."""
    good = valid_entries()
    code = _first_item(good)
    meta = f"{code}/{ITEM_METADATA}"
    docx_name = f"{code}/01-正本.docx"
    cases: dict[str, Entries | bytes] = {
        "dot-dot entry": [*good, ("../escaped.txt", b"x")],
        "dot-dot inside an item": [*good, (f"{code}/../../escaped.txt", b"x")],
        "absolute entry": [*good, ("/tmp/gongwen-escaped.txt", b"x")],
        "backslash entry": [*good, ("..\\escaped.txt", b"x")],
        "drive letter entry": [*good, ("C:/escaped.txt", b"x")],
        "file name with ../ in metadata": _edit_json(good, meta, _file_field("计算机文件名", "../../../escaped.txt")),
        "absolute file name in metadata": _edit_json(good, meta, _file_field("计算机文件名", "/tmp/escaped.txt")),
        "archive code of another folder in metadata": _edit_json(good, meta, _set("档号", f"{FONDS}-WS·2012-Y-BGS-0099")),
        "digest forged": _edit_json(good, meta, _file_field("固化信息", [{"算法": "SHA-256", "值": "0" * 64}, {"算法": "SM3", "值": "0" * 64}])),
        "size forged": _edit_json(good, meta, _file_field("大小", 1)),
        "file content changed": [(n, d[:-1] + bytes([d[-1] ^ 1]) if n == docx_name else d) for n, d in good],
        "file missing": [(n, d) for n, d in good if n != docx_name],
        "metadata missing": [(n, d) for n, d in good if n != meta],
        "manifest missing": [(n, d) for n, d in good if n != PACKAGE_MANIFEST],
        "extra file": [*good, (f"{code}/99-extra.exe", b"MZ")],
        "extra item folder": [*good, ("S037-WS·2012-Y-BGS-0777/metadata.json", b"{}")],
        "duplicated entry": [*good, (docx_name, b"another body")],
        "duplicated manifest": [*good, (PACKAGE_MANIFEST, _json({"format": PACKAGE_FORMAT}))],
        "count forged": _edit_json(good, PACKAGE_MANIFEST, _set("件数", 7)),
        "bytes forged": _edit_json(good, PACKAGE_MANIFEST, _set("字节数", 1)),
        "code listed twice": _edit_json(good, PACKAGE_MANIFEST, lambda m: {**m, "档号": [*m["档号"], m["档号"][0]], "件数": m["件数"] + 1}),
        "code of another fonds": _edit_json(good, PACKAGE_MANIFEST, lambda m: {**m, "档号": ["Z109-WS·2012-Y-BGS-0001"]}),
        "code not a string": _edit_json(good, PACKAGE_MANIFEST, _set("档号", [1, 2])),
        "codes not a list": _edit_json(good, PACKAGE_MANIFEST, _set("档号", "S037-WS·2012-Y-BGS-0001")),
        "count a string": _edit_json(good, PACKAGE_MANIFEST, _set("件数", "2")),
        "negative count": _edit_json(good, PACKAGE_MANIFEST, _set("件数", -1)),
        "fonds missing": _edit_json(good, PACKAGE_MANIFEST, _drop("全宗号")),
        "another fonds": _edit_json(good, PACKAGE_MANIFEST, _set("全宗号", "Z109")),
        "wrong format": _edit_json(good, PACKAGE_MANIFEST, _set("format", "other/1")),
        "manifest a list": [(n, b"[1, 2]" if n == PACKAGE_MANIFEST else d) for n, d in good],
        "manifest not JSON": [(n, b"{format: " if n == PACKAGE_MANIFEST else d) for n, d in good],
        "manifest not UTF-8": [(n, b"\xff\xfe{}" if n == PACKAGE_MANIFEST else d) for n, d in good],
        "metadata files not a list": _edit_json(good, meta, _set("电子文件", {"a": 1})),
        "metadata date nonsense": _edit_json(good, meta, _set("日期", "2012-13-45")),
        "metadata title missing": _edit_json(good, meta, _drop("题名")),
        "metadata file size a string": _edit_json(good, meta, _file_field("大小", "12")),
        "metadata digests not a list": _edit_json(good, meta, _file_field("固化信息", "sha")),
        "a .docx that is not one": _forged_docx(good, code),
        "zip bomb": [*good, (f"{code}/bomb.txt", b"\0" * (40 * 1024 * 1024))],
        "huge manifest": [(n, b" " * (20 * 1024 * 1024) + d if n == PACKAGE_MANIFEST else d) for n, d in good],
        "not a zip": b"this is not a zip file",
        "empty file": b"",
        "truncated zip": zip_bytes(good)[:-100],
    }
    return cases


def _forged_docx(good: Entries, code: str) -> Entries:
    """A file named .docx whose bytes are a zip with a broken document.xml, digests matching."""
    broken = zip_bytes([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document><w:body><w:p>")])
    name = f"{code}/01-正本.docx"
    entries = [(n, broken if n == name else d) for n, d in good]
    d = digests(broken)
    entries = _edit_json(
        entries,
        f"{code}/{ITEM_METADATA}",
        lambda m: {
            **m,
            "电子文件": [
                {**m["电子文件"][0], "大小": d.size, "固化信息": [{"算法": "SHA-256", "值": d.sha256}, {"算法": "SM3", "值": d.sm3}]},
                *m["电子文件"][1:],
            ],
        },
    )
    total = sum(len(v) for n, v in entries if n not in (PACKAGE_MANIFEST,) and not n.endswith(ITEM_METADATA))
    return _edit_json(entries, PACKAGE_MANIFEST, _set("字节数", total))


def mutated_case(rng: random.Random) -> bytes:
    """A random structural or byte-level damage of a valid package."""
    entries = valid_entries(rng.randint(1, 3))
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(5)
        at = rng.randrange(len(entries))
        name, data = entries[at]
        if kind == 0 and name.endswith(".json") and _parses(data):  # a JSON field deleted, retyped or replaced
            entries[at] = (name, _json(_mutate_json(json.loads(data), rng)))
        elif kind == 1:  # an entry renamed to a hostile path
            entries[at] = (rng.choice(["../", "/", "a/../../", "..\\", "./", ""]) + name, data)
        elif kind == 2:  # an entry dropped or duplicated
            if rng.random() < 0.5:
                del entries[at]
            else:
                entries.append((name, data[::-1]))
        elif kind == 3 and data:  # bytes flipped inside one entry
            buf = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            entries[at] = (name, bytes(buf))
        else:  # an extra entry
            entries.append((rng.choice([f"{name}.bak", "extra.bin", f"{name.split('/')[0]}/x"]), rng.randbytes(rng.randint(0, 64))))
    data = zip_bytes(entries)
    if rng.random() < 0.2:  # damage the zip itself
        buf = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        data = bytes(buf)
    return data


def _parses(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError: an earlier round broke it
        return False
    return True


def _mutate_json(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        choice = rng.randrange(4)
        if choice == 0:
            return {k: v for k, v in value.items() if k != key}
        if choice == 1:
            return {**value, key: _mutate_json(value[key], rng)}
        return {**value, key: rng.choice([None, 0, -1, 2**70, "", "../x", "名" * 1000, [], {}, True, 1.5, "20121399"])}
    if isinstance(value, list) and value:
        at = rng.randrange(len(value))
        return [*value[:at], _mutate_json(value[at], rng), *value[at + 1 :]]
    return rng.choice([None, 0, "", [], {}, "x"])


@dataclass
class ArchiveBench:
    """One engine and the state that must not change when a package is refused."""

    engine: Engine
    root: Path

    @classmethod
    def create(cls, root: Path) -> ArchiveBench:
        root.mkdir(parents=True, exist_ok=True)
        return cls(open_engine(Settings(home=root / ".gongwen", storage=root / "storage")), root)

    def snapshot(self) -> tuple[Any, ...]:
        with Session(self.engine.db) as session:
            counts = tuple(session.exec(select(func.count()).select_from(table)).one() for table in (ArchiveItem, ArchiveSearch, NumberCounter))
        files = sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file() and ".gongwen" not in p.parts and p.parent.name != "packages")
        return counts, files

    def attempt(self, data: bytes, label: str, tally: Tally) -> str:
        """Import one package; record a failure if the property does not hold. 'imported' | 'refused'."""
        folder = self.root / "packages"
        folder.mkdir(exist_ok=True)
        package = folder / "移交包.zip"
        package.write_bytes(data)
        before = self.snapshot()
        tally.tried += 1
        outcome = "refused"
        try:
            with db.transaction(self.engine.db) as session:
                items = import_package(session, self.engine.storage, self.engine.config, package, FONDS)
                outcome = "imported"
                written = [self.engine.storage / f["file"] for item in items for f in item.files]
                if not all(p.is_file() for p in written):
                    tally.fail(f"{label}: imported but its files are not in storage")
                raise RolledBack()
        except RolledBack:
            pass
        except Refusal as exc:
            if not CHINESE.search(str(exc)):
                tally.fail(f"{label}: refusal without a Chinese message: {exc}")
        except Exception as exc:  # anything else reaches the person as a traceback
            tally.fail(f"{label}: {type(exc).__name__}: {str(exc)[:200]}")
        after = self.snapshot()
        if after != before:
            tally.fail(f"{label}: {outcome}, then rolled back, but the database or the files changed: {before} -> {after}")
        escaped = [p for p in (Path("/tmp/gongwen-escaped.txt"), Path("/tmp/escaped.txt")) if p.exists()]
        if escaped:
            tally.fail(f"{label}: wrote outside the storage folder: {escaped}")
            for p in escaped:
                p.unlink()
        return outcome


def fuzz_archive(root: Path, random_cases: int, seed: int = 0) -> tuple[Tally, dict[str, str]]:
    """The named attacks (each must be refused), the valid package (must import) and
    ``random_cases`` seeded random damages (imported or refused, never anything else)."""
    tally = Tally("archive packages")
    bench = ArchiveBench.create(root)
    outcomes = {"valid package": bench.attempt(zip_bytes(valid_entries()), "valid package", tally)}
    if outcomes["valid package"] != "imported":
        tally.fail("the valid package was refused")
    for label, case in named_cases().items():
        outcomes[label] = bench.attempt(case if isinstance(case, bytes) else zip_bytes(case), label, tally)
        if outcomes[label] != "refused":
            tally.fail(f"{label}: was imported, must be refused")
    for n in range(random_cases):
        case_seed = seed * 1_000_003 + n
        bench.attempt(mutated_case(random.Random(case_seed)), f"random damage seed={case_seed}", tally)
    return tally, outcomes
