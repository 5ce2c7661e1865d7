"""Agreements register, IG stages per project, datasets' readiness history.

A link's agreement word `drafting`, `signed` or `expired` becomes an agreement record: one per
dataset and word, its publisher the controller and the linking projects' owners recipients,
and each such link refers to it (its own word becomes `none`). Downgrading writes the record's
status back onto its links.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-03 06:48:28.037996
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('sharing_agreement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('lawful_basis', sa.String(length=32), nullable=True),
    sa.Column('special_category_condition', sa.String(length=40), nullable=True),
    sa.Column('dpia_reference', sa.String(length=200), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=True),
    sa.Column('review_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('document_url', sa.String(length=1000), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("lawful_basis IS NULL OR lawful_basis IN ('consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests')", name=op.f('ck_sharing_agreement_lawful_basis')),
    sa.CheckConstraint("special_category_condition IS NULL OR special_category_condition IN ('explicit_consent', 'employment_social_security', 'vital_interests', 'not_for_profit_body', 'made_public', 'legal_claims', 'substantial_public_interest', 'health_social_care', 'public_health', 'archiving_research')", name=op.f('ck_sharing_agreement_special_category_condition')),
    sa.CheckConstraint("status IN ('drafting', 'signed', 'expired', 'terminated')", name=op.f('ck_sharing_agreement_status')),
    sa.CheckConstraint('expires_on IS NULL OR signed_on IS NULL OR expires_on >= signed_on', name=op.f('ck_sharing_agreement_expiry_after_signing')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_sharing_agreement_version_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sharing_agreement')),
    sa.UniqueConstraint('code', name=op.f('uq_sharing_agreement_code'))
    )
    with op.batch_alter_table('sharing_agreement', schema=None) as batch_op:
        batch_op.create_index('ix_sharing_agreement_expires_on', ['expires_on'], unique=False)

    op.create_table('agreement_party',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('controller', 'processor', 'recipient')", name=op.f('ck_agreement_party_role')),
    sa.ForeignKeyConstraint(['agreement_id'], ['sharing_agreement.id'], name=op.f('fk_agreement_party_agreement_id_sharing_agreement'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_agreement_party_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreement_party')),
    sa.UniqueConstraint('agreement_id', 'organisation_id', name=op.f('uq_agreement_party_agreement_id'))
    )
    with op.batch_alter_table('agreement_party', schema=None) as batch_op:
        batch_op.create_index('ix_agreement_party_organisation', ['organisation_id'], unique=False)

    op.create_table('agreement_dataset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['sharing_agreement.id'], name=op.f('fk_agreement_dataset_agreement_id_sharing_agreement'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('fk_agreement_dataset_dataset_id_dataset'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreement_dataset')),
    sa.UniqueConstraint('agreement_id', 'dataset_id', name=op.f('uq_agreement_dataset_agreement_id'))
    )
    with op.batch_alter_table('agreement_dataset', schema=None) as batch_op:
        batch_op.create_index('ix_agreement_dataset_dataset', ['dataset_id'], unique=False)

    op.create_table('dataset_readiness_assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('drl', sa.String(length=2), nullable=False),
    sa.Column('previous_drl', sa.String(length=2), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('assessor_id', sa.Integer(), nullable=True),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("drl IN ('C4', 'C3', 'C2', 'C1', 'B2', 'B1')", name=op.f('ck_dataset_readiness_assessment_drl')),
    sa.CheckConstraint('length(evidence) > 0', name=op.f('ck_dataset_readiness_assessment_evidence_given')),
    sa.ForeignKeyConstraint(['assessor_id'], ['user_account.id'], name=op.f('fk_dataset_readiness_assessment_assessor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('fk_dataset_readiness_assessment_dataset_id_dataset'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_readiness_assessment'))
    )
    with op.batch_alter_table('dataset_readiness_assessment', schema=None) as batch_op:
        batch_op.create_index('ix_dataset_readiness_assessment_dataset', ['dataset_id', 'id'], unique=False)

    op.create_table('project_ig_stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dated_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("stage IN ('dpia_screening', 'dpia', 'sharing_agreements', 'privacy_notice')", name=op.f('ck_project_ig_stage_stage')),
    sa.CheckConstraint("status IN ('not_started', 'in_progress', 'done', 'not_needed')", name=op.f('ck_project_ig_stage_status')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_ig_stage_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_project_ig_stage_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_ig_stage')),
    sa.UniqueConstraint('project_id', 'stage', name=op.f('uq_project_ig_stage_project_id'))
    )
    with op.batch_alter_table('project_dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sharing_agreement_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_project_dataset_sharing_agreement', ['sharing_agreement_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_project_dataset_sharing_agreement_id_sharing_agreement'), 'sharing_agreement', ['sharing_agreement_id'], ['id'], ondelete='SET NULL')

    _records_from_link_words()


RECORDED_WORDS = ("drafting", "signed", "expired")


def _records_from_link_words() -> None:
    """Turn each (dataset, agreement word) of the links into one agreement record."""
    bind = op.get_bind()
    meta = sa.MetaData()
    link = sa.Table("project_dataset", meta, autoload_with=bind)
    dataset = sa.Table("dataset", meta, autoload_with=bind)
    project = sa.Table("project", meta, autoload_with=bind)
    agreement = sa.Table("sharing_agreement", meta, autoload_with=bind)
    party = sa.Table("agreement_party", meta, autoload_with=bind)
    covered = sa.Table("agreement_dataset", meta, autoload_with=bind)
    rows = bind.execute(
        sa.select(link.c.id, link.c.agreement, dataset.c.id, dataset.c.code, dataset.c.title,
                  dataset.c.publisher_id, project.c.owner_id)
        .join(dataset, dataset.c.id == link.c.dataset_id)
        .join(project, project.c.id == link.c.project_id)
        .where(link.c.agreement.in_(RECORDED_WORDS))
        .order_by(dataset.c.code, link.c.agreement, link.c.id)
    ).all()
    groups: dict[tuple[int, str], list] = {}
    for row in rows:
        groups.setdefault((row[2], row[1]), []).append(row)
    now = sa.func.now() if bind.dialect.name != "sqlite" else sa.text("CURRENT_TIMESTAMP")
    for (dataset_id, word), members in groups.items():
        _, _, _, code, title, publisher_id, _ = members[0]
        agreement_id = bind.execute(agreement.insert().values(
            code=f"{code}-{word}"[:120], title=f"Sharing {title}"[:300],
            purpose="Recorded from the links' agreement status before the register existed.",
            dpia_reference="", status=word, document_url="", version=1,
            created_at=now, updated_at=now,
        ).returning(agreement.c.id)).scalar_one()
        bind.execute(covered.insert().values(agreement_id=agreement_id, dataset_id=dataset_id))
        roles = {publisher_id: "controller"}
        for member in members:
            roles.setdefault(member[6], "recipient")
        bind.execute(party.insert(), [{"agreement_id": agreement_id, "organisation_id": o,
                                       "role": r} for o, r in roles.items()])
        bind.execute(link.update().where(link.c.id.in_([m[0] for m in members]))
                     .values(sharing_agreement_id=agreement_id, agreement="none"))


def _words_from_records() -> None:
    """Write each record's status back onto the links that refer to it."""
    bind = op.get_bind()
    meta = sa.MetaData()
    link = sa.Table("project_dataset", meta, autoload_with=bind)
    agreement = sa.Table("sharing_agreement", meta, autoload_with=bind)
    status = (sa.select(agreement.c.status).where(agreement.c.id == link.c.sharing_agreement_id)
              .scalar_subquery())
    word = sa.case((status == "terminated", "expired"), else_=status)
    bind.execute(link.update().where(link.c.sharing_agreement_id.is_not(None))
                 .values(agreement=word))


def downgrade() -> None:
    """Revert this revision."""
    _words_from_records()
    with op.batch_alter_table('project_dataset', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_project_dataset_sharing_agreement_id_sharing_agreement'), type_='foreignkey')
        batch_op.drop_index('ix_project_dataset_sharing_agreement')
        batch_op.drop_column('sharing_agreement_id')

    op.drop_table('project_ig_stage')
    with op.batch_alter_table('dataset_readiness_assessment', schema=None) as batch_op:
        batch_op.drop_index('ix_dataset_readiness_assessment_dataset')

    op.drop_table('dataset_readiness_assessment')
    with op.batch_alter_table('agreement_dataset', schema=None) as batch_op:
        batch_op.drop_index('ix_agreement_dataset_dataset')

    op.drop_table('agreement_dataset')
    with op.batch_alter_table('agreement_party', schema=None) as batch_op:
        batch_op.drop_index('ix_agreement_party_organisation')

    op.drop_table('agreement_party')
    with op.batch_alter_table('sharing_agreement', schema=None) as batch_op:
        batch_op.drop_index('ix_sharing_agreement_expires_on')

    op.drop_table('sharing_agreement')
