"""The one exception family (config/errors.py): every error gongwen raises on purpose is a refusal
(Chinese text for a person) or a definition error (file:line); infrastructure failures are neither."""

from __future__ import annotations

import pytest

from gongwen_engine.config import errors
from gongwen_engine.config.errors import DefinitionError, GongwenError, Refusal
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.doc_templates.pdf import BridgeFailed, BridgeUnavailable, ConversionError
from gongwen_engine.doc_templates.reader import IntakeError
from gongwen_engine.doc_templates.seal import SealPlacementError
from gongwen_engine.doc_templates.signing import SigningError
from gongwen_engine.flows.services.archive_exports import PackageError
from gongwen_engine.flows.services.intake import DuplicateError
from gongwen_engine.models.db import DatabaseUnavailable
from gongwen_engine.models.rules.permissions import PermissionDenied
from gongwen_engine.models.rules.workdays import CalendarError


@pytest.mark.parametrize("cls", [PermissionDenied, DuplicateError, PackageError, CalendarError, IntakeError, DatabaseUnavailable, SealPlacementError])
def test_refusals_are_refusals(cls: type) -> None:
    assert issubclass(cls, Refusal) and not issubclass(cls, DefinitionError)


@pytest.mark.parametrize("cls", [SourceError, SourceErrors, SigningError])
def test_definition_errors_are_definition_errors(cls: type) -> None:
    assert issubclass(cls, DefinitionError) and not issubclass(cls, Refusal)


@pytest.mark.parametrize("cls", [ConversionError, BridgeUnavailable, BridgeFailed])
def test_infrastructure_failures_are_bugs_not_refusals(cls: type) -> None:
    assert not issubclass(cls, GongwenError)


def test_the_family_has_two_branches_and_no_transitional_class() -> None:
    assert issubclass(Refusal, GongwenError) and issubclass(DefinitionError, GongwenError)
    assert not hasattr(errors, "FlowError")


def test_a_source_error_names_file_and_line() -> None:
    error = SourceError("flows/definitions/issuing.yaml", 12, "unknown action 'nonesuch'", "use one of: number")
    assert str(error) == "flows/definitions/issuing.yaml:12: unknown action 'nonesuch'\n  fix: use one of: number"


def test_an_unknown_flow_is_refused_in_chinese(make_engine) -> None:
    with pytest.raises(Refusal, match="未知流程“nonesuch”"):
        make_engine().flow("nonesuch")
