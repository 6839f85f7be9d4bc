"""administration: people, organisations, departments, numbering schemes and calendar years in the
database, with a generation counter running processes compare (issue 24). Also merges the feature
heads that branched from 0002.

Revision ID: 0030_admin
Revises: 0004, 0006, 0008, 0012_audit_chain, 0014_delivery_recipients, 0019, 0021_flow_versions,
0022_delivery_copies, 0022_web_sessions, 0026_launch_once, 0028_messages
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0030_admin"
down_revision = (
    "0004",
    "0006",
    "0008",
    "0012_audit_chain",
    "0014_delivery_recipients",
    "0019",
    "0021_flow_versions",
    "0022_delivery_copies",
    "0022_web_sessions",
    "0026_launch_once",
    "0028_messages",
)  # a merge of the heads there were; later features may branch from here
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "admin_organisation",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "admin_person",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "admin_department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org", "name", name="uq_admin_department"),
    )
    with op.batch_alter_table("admin_department", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_department_org"), ["org"], unique=False)
    op.create_table(
        "admin_scheme",
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "year"),
    )
    op.create_table(
        "admin_calendar_year",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )


def downgrade() -> None:
    op.drop_table("admin_calendar_year")
    op.drop_table("admin_scheme")
    with op.batch_alter_table("admin_department", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_department_org"))
    op.drop_table("admin_department")
    op.drop_table("admin_person")
    op.drop_table("admin_organisation")
    op.drop_table("admin_state")
