"""The supervision board (督办台账) per requirement: the rows of ``reporting.board`` grouped
under the requirements an office made, as the web page shows them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services import reporting
from gongwen_engine.models.queries.reporting import requirements_of
from gongwen_engine.models.tables import ReportingRequirement


@dataclass
class RequirementBoard:
    """One requirement with its rows and counts, as the page shows it."""

    requirement: ReportingRequirement
    rows: list[reporting.BoardRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return reporting.board_counts(self.rows)


def requirement_boards(engine: Engine, org: str, requirement: int | None, rows: list[reporting.BoardRow]) -> list[RequirementBoard]:
    """``rows`` grouped under the requirements ``org`` made (only ``requirement`` when given), newest first."""
    with Session(engine.db) as session:
        groups = {req.id: RequirementBoard(req) for req in requirements_of(session, org, requirement)}
    for row in rows:
        if row.requirement in groups:
            groups[row.requirement].rows.append(row)
    return list(groups.values())
