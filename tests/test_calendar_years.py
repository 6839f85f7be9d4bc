"""Calendar years entered in config (issue 21): the State Council's notice of a year, copied into
config/calendar.yaml, takes precedence over chinese-calendar (which stops at 2026); a year known to
neither is refused naming the file and the notice; `gongwen check` warns from 1 October."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from typer.testing import CliRunner
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
from gongwen_engine.config.yamlsrc import SourceError
from gongwen_engine.flows.cli import check as check_command
from gongwen_engine.flows.cli.main import app
from gongwen_engine.models.rules.workdays import CalendarError, load_calendar, next_year_missing

SHIPPED = (PACKAGED_CONFIG_DIR / "calendar.yaml").read_text(encoding="utf-8")
# An EXAMPLE for 2027, not the State Council's notice (not yet in our sources): 元旦 1–3 January.
EXAMPLE_2027 = "years:\n  2027:\n    notice: 示例（非正式通知）\n    holidays:\n      - {name: 元旦, from: 2027-01-01, to: 2027-01-03}\n"


def documented_example() -> str:
    """The 2024 example in the shipped calendar.yaml's comments, uncommented: the README's way to enter a year."""
    block = SHIPPED[SHIPPED.index("# years:\n") : SHIPPED.index("\n#\n# 2027")]
    return "\n".join(line.removeprefix("# ") for line in block.splitlines())


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    load_calendar.cache_clear()
    yield copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    load_calendar.cache_clear()


def test_a_year_entered_from_its_notice_gives_the_published_working_days(config: Path) -> None:
    edit(config, "calendar.yaml", "years: {}", documented_example())
    cal = load_calendar(config)
    assert cal.declared_years == {2024}
    # the entered notice (国办发明电〔2023〕7号) answers every day of 2024 as the package does
    days = [date(2024, 1, 1) + timedelta(days=k) for k in range(366)]
    assert [d for d in days if cal.official_workday(d) != chinese_calendar.is_workday(d)] == []
    # 国庆节 10月1日至7日放假调休；9月29日（星期日）上班: received Friday 27 September → 10 October
    assert cal.add_working_days(date(2024, 9, 27), 5) == date(2024, 10, 10)
    assert cal.is_workday(date(2024, 2, 4)) and not cal.is_workday(date(2024, 2, 16))


def test_an_entered_year_takes_precedence_over_the_package(config: Path) -> None:
    # a (fictional) extra holiday on Monday 8 October 2012, which the package says is a working day
    edit(config, "calendar.yaml", "years: {}", "years:\n  2012:\n    notice: 示例\n    holidays:\n      - {name: 国庆节, from: 2012-09-30, to: 2012-10-08}\n")
    assert chinese_calendar.is_workday(date(2012, 10, 8)) and not load_calendar(config).is_workday(date(2012, 10, 8))


def test_wrong_entries_name_the_line(config: Path) -> None:
    edit(config, "calendar.yaml", "years: {}", EXAMPLE_2027 + "    workdays: [2027-01-02]\n")
    with pytest.raises(SourceError, match=r"calendar.yaml:\d+: 2027-01-02 is listed twice"):
        load_calendar(config)
    load_calendar.cache_clear()
    edit(config, "calendar.yaml", "    workdays: [2027-01-02]\n", "    workdays: [2028-01-02]\n")
    with pytest.raises(SourceError, match=r"calendar.yaml:\d+: 2028-01-02 is not in 2027"):
        load_calendar(config)


def gongwen(config: Path, home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"GONGWEN_HOME": str(home), "GONGWEN_CONFIG_DIR": str(config), "GONGWEN_DATABASE_URL": None})
    return result.exit_code, re.sub(r"\s+", "", result.output)


def test_workdays_across_new_year_need_next_year_entered(config: Path, tmp_path: Path) -> None:
    code, output = gongwen(config, tmp_path / "home", "deadlines", "workdays", "2026-12-28", "5")
    assert code == 2, output
    assert "工作日历没有2027年的国家法定节假日安排" in output and "calendar.yaml" in output and "《关于2027年部分节假日安排的通知》" in output
    with pytest.raises(CalendarError, match="2027"):
        load_calendar(config).add_working_days(date(2026, 12, 28), 5)

    edit(config, "calendar.yaml", "years: {}", EXAMPLE_2027)
    load_calendar.cache_clear()
    code, output = gongwen(config, tmp_path / "home", "deadlines", "workdays", "2026-12-28", "5")
    assert code == 0, output
    assert "2026-12-28+5个工作日=2027-01-05(二)" in output  # 29, 30, 31 December, then 4 and 5 January


def test_check_warns_from_the_first_of_october_when_next_year_is_missing(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cal = load_calendar(config)
    assert next_year_missing(cal, date(2026, 9, 30)) is None
    assert next_year_missing(cal, date(2026, 10, 1)) == 2027
    assert next_year_missing(cal, date(2025, 12, 31)) is None  # the package knows 2026
    monkeypatch.setattr(check_command, "today", lambda: date(2026, 10, 1))
    code, output = gongwen(config, tmp_path / "home", "check")
    assert code == 0 and "提醒：工作日历还没有2027年的国家法定节假日安排" in output, output

    edit(config, "calendar.yaml", "years: {}", EXAMPLE_2027)
    load_calendar.cache_clear()
    assert next_year_missing(load_calendar(config), date(2026, 12, 5)) is None
    code, output = gongwen(config, tmp_path / "home", "check")
    assert code == 0 and "提醒" not in output, output
