"""Initial schema: organisations, projects, datasets, links, criteria, assessments, profiles.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 17:42:53.274073
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "criterion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("dimension", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=False),
        sa.Column("max_level", sa.Integer(), nullable=False),
        sa.Column("default_weight", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "dimension IN ('impact', 'feasibility', 'readiness')",
            name=op.f("ck_criterion_dimension"),
        ),
        sa.CheckConstraint(
            "source IN ('assessed', 'cost_band', 'effort_band', 'derived')",
            name=op.f("ck_criterion_source"),
        ),
        sa.CheckConstraint("default_weight >= 0", name=op.f("ck_criterion_weight_non_negative")),
        sa.CheckConstraint("min_level < max_level", name=op.f("ck_criterion_scale_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criterion")),
        sa.UniqueConstraint("key", name=op.f("uq_criterion_key")),
    )
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.CheckConstraint(
            "kind IN ('gla', 'borough', 'gla_group', 'nhs', 'police', 'fire', 'utility', 'university', 'partnership', 'supplier', 'voluntary', 'central_government')",
            name=op.f("ck_organisation_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("code", name=op.f("uq_organisation_code")),
    )
    op.create_table(
        "weight_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ahp_matrix", sa.JSON(), nullable=True),
        sa.Column("consistency_ratio", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("method IN ('direct', 'ahp')", name=op.f("ck_weight_profile_method")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weight_profile")),
        sa.UniqueConstraint("name", name=op.f("uq_weight_profile_name")),
    )
    op.create_table(
        "criterion_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("descriptor", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["criterion.id"],
            name=op.f("fk_criterion_level_criterion_id_criterion"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criterion_level")),
        sa.UniqueConstraint("criterion_id", "level", name=op.f("uq_criterion_level_criterion_id")),
    )
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("publisher_id", sa.Integer(), nullable=False),
        sa.Column("access", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("licence", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("update_frequency", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("drl", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "access IN ('open', 'shared', 'restricted', 'personal')", name=op.f("ck_dataset_access")
        ),
        sa.CheckConstraint(
            "drl IN ('C4', 'C3', 'C2', 'C1', 'B2', 'B1')", name=op.f("ck_dataset_drl")
        ),
        sa.CheckConstraint(
            "update_frequency IN ('realtime', 'daily', 'weekly', 'monthly', 'quarterly', 'annual', 'adhoc', 'one_off')",
            name=op.f("ck_dataset_update_frequency"),
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["organisation.id"], name=op.f("fk_dataset_publisher_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
        sa.UniqueConstraint("code", name=op.f("uq_dataset_code")),
    )
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_publisher", ["publisher_id"], unique=False)

    op.create_table(
        "profile_weight",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('dimension', 'criterion')", name=op.f("ck_profile_weight_kind")
        ),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_profile_weight_weight_non_negative")),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["weight_profile.id"],
            name=op.f("fk_profile_weight_profile_id_weight_profile"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_weight")),
        sa.UniqueConstraint("profile_id", "kind", "key", name=op.f("uq_profile_weight_profile_id")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role <> 'lead' OR organisation_id IS NOT NULL",
            name=op.f("ck_user_account_lead_has_org"),
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'cdo', 'lead', 'researcher')", name=op.f("ck_user_account_role")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_user_account_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_audit_event_actor_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_entity", ["entity", "entity_id", "id"], unique=False)

    op.create_table(
        "profile_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["user_account.id"],
            name=op.f("fk_profile_revision_changed_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["weight_profile.id"],
            name=op.f("fk_profile_revision_profile_id_weight_profile"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_revision")),
        sa.UniqueConstraint("profile_id", "version", name=op.f("uq_profile_revision_profile_id")),
    )
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("theme", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("cost_gbp", sa.Integer(), nullable=False),
        sa.Column("effort_pm", sa.Float(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("dpia_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("mandatory_justification", sa.Text(), nullable=False),
        sa.Column("reach_people", sa.Integer(), nullable=True),
        sa.Column("confidence_pct", sa.Integer(), nullable=True),
        sa.Column("time_criticality", sa.Integer(), nullable=True),
        sa.Column("priority_override", sa.Float(), nullable=True),
        sa.Column("override_justification", sa.Text(), nullable=False),
        sa.Column("override_by_id", sa.Integer(), nullable=True),
        sa.Column("override_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "dpia_status IN ('not_needed', 'not_started', 'in_progress', 'approved')",
            name=op.f("ck_project_dpia_status"),
        ),
        sa.CheckConstraint(
            "status IN ('idea', 'proposed', 'approved', 'in_progress', 'delivered', 'paused', 'rejected')",
            name=op.f("ck_project_status"),
        ),
        sa.CheckConstraint(
            "theme IN ('housing', 'health_social_care', 'cost_of_living', 'transport', 'environment_net_zero', 'economy', 'community_safety', 'digital_inclusion', 'infrastructure', 'data_infrastructure', 'children_education', 'planning')",
            name=op.f("ck_project_theme"),
        ),
        sa.CheckConstraint(
            "NOT mandatory OR length(mandatory_justification) > 0",
            name=op.f("ck_project_mandatory_justified"),
        ),
        sa.CheckConstraint(
            "confidence_pct IS NULL OR (confidence_pct >= 0 AND confidence_pct <= 100)",
            name=op.f("ck_project_confidence_range"),
        ),
        sa.CheckConstraint("cost_gbp >= 0", name=op.f("ck_project_cost_non_negative")),
        sa.CheckConstraint("effort_pm >= 0", name=op.f("ck_project_effort_non_negative")),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_project_dates_ordered"),
        ),
        sa.CheckConstraint(
            "priority_override IS NULL OR (priority_override >= 0 AND priority_override <= 100)",
            name=op.f("ck_project_override_range"),
        ),
        sa.CheckConstraint(
            "priority_override IS NULL OR length(override_justification) > 0",
            name=op.f("ck_project_override_justified"),
        ),
        sa.CheckConstraint(
            "reach_people IS NULL OR reach_people >= 0", name=op.f("ck_project_reach_non_negative")
        ),
        sa.CheckConstraint(
            "time_criticality IS NULL OR (time_criticality >= 1 AND time_criticality <= 5)",
            name=op.f("ck_project_time_criticality_range"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_project_version_positive")),
        sa.ForeignKeyConstraint(
            ["override_by_id"],
            ["user_account.id"],
            name=op.f("fk_project_override_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["organisation.id"], name=op.f("fk_project_owner_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
        sa.UniqueConstraint("slug", name=op.f("uq_project_slug")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index("ix_project_owner_status", ["owner_id", "status"], unique=False)
        batch_op.create_index("ix_project_status", ["status"], unique=False)
        batch_op.create_index("ix_project_theme_status", ["theme", "status"], unique=False)

    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor_id"],
            ["user_account.id"],
            name=op.f("fk_assessment_assessor_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["criterion_id", "level"],
            ["criterion_level.criterion_id", "criterion_level.level"],
            name="fk_assessment_level_criterion_level",
        ),
        sa.ForeignKeyConstraint(
            ["criterion_id"], ["criterion.id"], name=op.f("fk_assessment_criterion_id_criterion")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_assessment_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
    )
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessment_project_criterion", ["project_id", "criterion_id", "id"], unique=False
        )

    op.create_table(
        "project_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("relation", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("fit_for_task", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("agreement", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.CheckConstraint(
            "agreement IN ('not_needed', 'none', 'drafting', 'signed', 'expired')",
            name=op.f("ck_project_dataset_agreement"),
        ),
        sa.CheckConstraint(
            "fit_for_task IN ('unfit', 'unknown', 'partial', 'fit')",
            name=op.f("ck_project_dataset_fit_for_task"),
        ),
        sa.CheckConstraint(
            "relation IN ('uses', 'produces')", name=op.f("ck_project_dataset_relation")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_project_dataset_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_dataset_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_dataset")),
        sa.UniqueConstraint(
            "project_id", "dataset_id", "relation", name=op.f("uq_project_dataset_project_id")
        ),
    )
    with op.batch_alter_table("project_dataset", schema=None) as batch_op:
        batch_op.create_index("ix_project_dataset_dataset", ["dataset_id"], unique=False)

    op.create_table(
        "project_dependency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("depends_on_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "project_id <> depends_on_id", name=op.f("ck_project_dependency_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["depends_on_id"],
            ["project.id"],
            name=op.f("fk_project_dependency_depends_on_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_dependency_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_dependency")),
        sa.UniqueConstraint(
            "project_id", "depends_on_id", name=op.f("uq_project_dependency_project_id")
        ),
    )
    with op.batch_alter_table("project_dependency", schema=None) as batch_op:
        batch_op.create_index("ix_project_dependency_depends_on", ["depends_on_id"], unique=False)

    op.create_table(
        "project_partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.CheckConstraint(
            "role IN ('lead', 'partner', 'data_provider', 'funder')",
            name=op.f("ck_project_partner_role"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_project_partner_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_partner_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_partner")),
        sa.UniqueConstraint(
            "project_id", "organisation_id", name=op.f("uq_project_partner_project_id")
        ),
    )
    with op.batch_alter_table("project_partner", schema=None) as batch_op:
        batch_op.create_index("ix_project_partner_organisation", ["organisation_id"], unique=False)

    op.create_table(
        "review_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approve', 'defer', 'reject', 'needs_information')",
            name=op.f("ck_review_decision_decision"),
        ),
        sa.CheckConstraint(
            "length(rationale) > 0", name=op.f("ck_review_decision_rationale_given")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_review_decision_decided_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_review_decision_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decision")),
    )
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_decision_project", ["project_id", "decided_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_review_decision_project")

    op.drop_table("review_decision")
    with op.batch_alter_table("project_partner", schema=None) as batch_op:
        batch_op.drop_index("ix_project_partner_organisation")

    op.drop_table("project_partner")
    with op.batch_alter_table("project_dependency", schema=None) as batch_op:
        batch_op.drop_index("ix_project_dependency_depends_on")

    op.drop_table("project_dependency")
    with op.batch_alter_table("project_dataset", schema=None) as batch_op:
        batch_op.drop_index("ix_project_dataset_dataset")

    op.drop_table("project_dataset")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index("ix_assessment_project_criterion")

    op.drop_table("assessment")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index("ix_project_theme_status")
        batch_op.drop_index("ix_project_status")
        batch_op.drop_index("ix_project_owner_status")

    op.drop_table("project")
    op.drop_table("profile_revision")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_entity")

    op.drop_table("audit_event")
    op.drop_table("user_account")
    op.drop_table("profile_weight")
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_publisher")

    op.drop_table("dataset")
    op.drop_table("criterion_level")
    op.drop_table("weight_profile")
    op.drop_table("organisation")
    op.drop_table("criterion")
