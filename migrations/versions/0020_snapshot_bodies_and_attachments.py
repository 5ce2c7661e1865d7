"""Snapshot tables stored once by hash; documents attached to projects; assessors' index.

- snapshot_body: the tables of a snapshot (every line of its serialisation after the first),
  zlib-compressed, under the sha256 of those bytes. A snapshot keeps its first line (format
  and metadata) and the body's hash, so snapshots of an unchanged portfolio share one body.
  Existing snapshots are split in place; their content hashes (of the whole serialisation)
  do not change.
- attachment: a document's name, type, size, content hash, who uploaded it and when; the
  bytes are on disk under the hash, never in the database.
- ix_assessment_by_assessor: each assessor's newest level per project and criterion (several
  assessors per criterion) read from the index alone.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import hashlib
import zlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels = None
depends_on = None

# Copied, not imported: a migration must not change when the application's code does.
COMPRESS_LEVEL = 3


def _split(payload: bytes) -> tuple[bytes, bytes]:
    """Return a whole compressed serialisation's first line and its remaining bytes."""
    canonical = zlib.decompress(payload)
    cut = canonical.index(b"\n") + 1
    return canonical[:cut], canonical[cut:]


def _create_bodies() -> None:
    op.create_table(
        "snapshot_body",
        sa.Column("body_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(body_hash) = 64",
                           name=op.f("ck_snapshot_body_hash_length")),
        sa.PrimaryKeyConstraint("body_hash", name=op.f("pk_snapshot_body")),
    )
    with op.batch_alter_table("snapshot") as batch:
        batch.add_column(sa.Column("header", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("body_hash", sqlmodel.sql.sqltypes.AutoString(length=64),
                                   nullable=True))
    connection = op.get_bind()
    snapshot = sa.table("snapshot", sa.column("id"), sa.column("payload"),
                        sa.column("header"), sa.column("body_hash"), sa.column("created_at"))
    body = sa.table("snapshot_body", sa.column("body_hash"), sa.column("payload"),
                    sa.column("payload_bytes"), sa.column("created_at"))
    kept: set[str] = set()
    ids = [row[0] for row in connection.execute(sa.select(snapshot.c.id).order_by(snapshot.c.id))]
    for snapshot_id in ids:  # one at a time: a payload may be tens of megabytes
        payload, created_at = connection.execute(
            sa.select(snapshot.c.payload, snapshot.c.created_at)
            .where(snapshot.c.id == snapshot_id)).one()
        header, tables = _split(bytes(payload))
        body_hash = hashlib.sha256(tables).hexdigest()
        if body_hash not in kept:
            connection.execute(sa.insert(body).values(
                body_hash=body_hash, payload=zlib.compress(tables, COMPRESS_LEVEL),
                payload_bytes=len(tables), created_at=created_at))
            kept.add(body_hash)
        connection.execute(sa.update(snapshot).where(snapshot.c.id == snapshot_id)
                           .values(header=header, body_hash=body_hash))
    with op.batch_alter_table("snapshot") as batch:
        batch.alter_column("header", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column("body_hash", existing_type=sqlmodel.sql.sqltypes.AutoString(64),
                           nullable=False)
        batch.create_foreign_key(op.f("fk_snapshot_body_hash_snapshot_body"), "snapshot_body",
                                 ["body_hash"], ["body_hash"])
        batch.create_index("ix_snapshot_body_hash", ["body_hash"])
        batch.drop_column("payload")


def _drop_bodies() -> None:
    with op.batch_alter_table("snapshot") as batch:
        batch.add_column(sa.Column("payload", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    snapshot = sa.table("snapshot", sa.column("id"), sa.column("payload"),
                        sa.column("header"), sa.column("body_hash"))
    body = sa.table("snapshot_body", sa.column("body_hash"), sa.column("payload"))
    ids = [row[0] for row in connection.execute(sa.select(snapshot.c.id).order_by(snapshot.c.id))]
    for snapshot_id in ids:
        header, tables = connection.execute(
            sa.select(snapshot.c.header, body.c.payload)
            .join(body, body.c.body_hash == snapshot.c.body_hash)
            .where(snapshot.c.id == snapshot_id)).one()
        whole = bytes(header) + zlib.decompress(bytes(tables))
        connection.execute(sa.update(snapshot).where(snapshot.c.id == snapshot_id)
                           .values(payload=zlib.compress(whole, COMPRESS_LEVEL)))
    with op.batch_alter_table("snapshot") as batch:
        batch.alter_column("payload", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_index("ix_snapshot_body_hash")
        batch.drop_constraint(op.f("fk_snapshot_body_hash_snapshot_body"), type_="foreignkey")
        batch.drop_column("body_hash")
        batch.drop_column("header")
    op.drop_table("snapshot_body")


def _create_attachments() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("owner_kind IN ('project', 'agreement')",
                           name=op.f("ck_attachment_owner_kind_valid")),
        sa.CheckConstraint("kind IN ('business_case', 'dpia', 'agreement', 'other')",
                           name=op.f("ck_attachment_kind_valid")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_attachment_hash_length")),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_attachment_size_positive")),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["user_account.id"],
                                name=op.f("fk_attachment_uploaded_by_id_user_account"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    with op.batch_alter_table("attachment") as batch:
        batch.create_index("ix_attachment_owner", ["owner_kind", "owner_id", "id"])
        batch.create_index("ix_attachment_sha256", ["sha256"])


def upgrade() -> None:
    """Apply this revision."""
    _create_bodies()
    _create_attachments()
    with op.batch_alter_table("assessment") as batch:
        batch.create_index("ix_assessment_by_assessor",
                           ["project_id", "criterion_id", "assessor_id", "id"])


def downgrade() -> None:
    """Revert this revision (attachment rows go; their files stay on disk)."""
    with op.batch_alter_table("assessment") as batch:
        batch.drop_index("ix_assessment_by_assessor")
    op.drop_table("attachment")
    _drop_bodies()
