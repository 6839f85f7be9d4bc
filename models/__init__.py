"""gongwen's data: tables, migrations, numbering, the audit trail.

Importing the package registers the commit hook that chains audit records (``models/audit.py``),
so no session can commit an audit record outside the chain.
"""

from gongwen_engine.models import audit

__all__ = ["audit"]
