"""An identity's groups are kept as a JSON list in text of any length, every name whole.

They were joined with commas and cut at 4,000 characters, so a group named with commas (an
LDAP distinguished name such as `CN=Data Team,OU=Groups,DC=gla`) came back in pieces and a
long list lost its last groups. Stored rows are read back as the old code read them, except
that the pieces of a distinguished name are joined again (`OU=`, `DC=`... after a piece
holding `=`, and a piece after an escaped comma) and a name the cut halved is dropped; each
member's next sign-in stores their groups exactly. The downgrade joins them with commas again.

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels = None
depends_on = None

OLD_LIMIT = 4000
# Attributes that continue a distinguished name, never start a group's own (that is CN=).
CONTINUES = re.compile(r"\s*(OU|DC|O|L|ST|C|STREET)=", re.IGNORECASE)
IDENTITIES = sa.table("external_identity", sa.column("id", sa.Integer),
                      sa.column("groups", sa.Text))


def split_old(joined: str) -> list[str]:
    """Return the groups of a comma-joined row, a distinguished name's pieces joined again."""
    pieces = joined.split(",")
    if len(joined) >= OLD_LIMIT:
        pieces = pieces[:-1]  # cut there: the last name is likely half of one
    groups: list[str] = []
    for piece in pieces:
        if groups and (groups[-1].endswith("\\") or
                       ("=" in groups[-1] and CONTINUES.match(piece))):
            groups[-1] += "," + piece
        elif piece:
            groups.append(piece)
    return groups


def upgrade() -> None:
    with op.batch_alter_table("external_identity") as batch:
        batch.alter_column("groups", existing_type=sa.String(length=OLD_LIMIT),
                           type_=sa.Text(), existing_nullable=False)
    connection = op.get_bind()
    for row_id, joined in connection.execute(sa.select(IDENTITIES.c.id, IDENTITIES.c.groups)):
        connection.execute(IDENTITIES.update().where(IDENTITIES.c.id == row_id).values(
            groups=json.dumps(split_old(joined or ""), ensure_ascii=False)))


def downgrade() -> None:
    connection = op.get_bind()
    for row_id, listed in connection.execute(sa.select(IDENTITIES.c.id, IDENTITIES.c.groups)):
        try:
            groups = json.loads(listed or "[]")
        except ValueError:
            continue
        connection.execute(IDENTITIES.update().where(IDENTITIES.c.id == row_id).values(
            groups=",".join(str(g) for g in groups)[:OLD_LIMIT]))
    with op.batch_alter_table("external_identity") as batch:
        batch.alter_column("groups", existing_type=sa.Text(),
                           type_=sa.String(length=OLD_LIMIT), existing_nullable=False)
