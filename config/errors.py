"""The one exception family of gongwen (异常体系).

Every error gongwen raises on purpose is one of two kinds; anything else is a bug and is shown as one
(the CLI writes its traceback to the error log and says so in one Chinese line; the web answers 500):

* :class:`Refusal` — a person's request that cannot be honoured (wrong person, step already done, a
  bad value). Its message is Chinese text for that person, saying what was refused and what to do.
* :class:`DefinitionError` — a flow or config file is wrong. It names the file and line and how to
  fix it (``config/yamlsrc.SourceError`` is one).

The refusals: ``PermissionDenied`` (models/rules/permissions), ``CalendarError`` (models/rules/workdays),
``DatabaseUnavailable`` (models/db), ``IntakeError`` (doc_templates/reader), ``SealPlacementError``
(doc_templates/seal), ``DuplicateError`` (flows/services/intake), ``PackageError``
(flows/services/archive_exports). The definition errors: ``SourceError``/``SourceErrors``
(config/yamlsrc), ``SigningError`` (models/signing: a key or certificate named by the seal config).
LibreOffice failing (``ConversionError``, ``BridgeUnavailable``, ``BridgeFailed`` in doc_templates/pdf)
is infrastructure, not a refusal: it is shown as a bug.

This module is the bottom of the import graph: it imports nothing from gongwen.
"""

from __future__ import annotations


class GongwenError(Exception):
    """Base of every error gongwen raises on purpose."""


class Refusal(GongwenError):
    """A request refused; the message is Chinese text shown to the person as it is."""


class DefinitionError(GongwenError):
    """A definition (flow or config file) is wrong; the message names file:line and the fix."""
