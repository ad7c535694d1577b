"""Identity: credential blobs (EC2 secrets) encrypted at rest.

Adds ``identity_credentials.key_hash`` and encrypts every blob stored in the
clear with the primary key of the credential key repository (made here when
missing: ``[identity] credential_key_repository`` or ``<state_path>/credential-keys``).

Revision ID: identity_0005
Revises: identity_0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from cumulo.conf import CONF
from cumulo_service_identity.credential_keys import CredentialKeys, repository_path

revision = "identity_0005"
down_revision = "identity_0004"
branch_labels = None
depends_on = None

_credentials = sa.table("identity_credentials", sa.column("id", sa.String), sa.column("blob", sa.Text),
                        sa.column("key_hash", sa.String))


def upgrade() -> None:
    op.add_column("identity_credentials", sa.Column("key_hash", sa.String(64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_credentials.c.id, _credentials.c.blob)
                        .where(_credentials.c.key_hash.is_(None))).all()
    if not rows:
        return
    keys = CredentialKeys(repository_path(CONF))
    keys.ensure()
    for cred_id, blob in rows:
        ciphertext, key_hash = keys.encrypt(blob)
        bind.execute(sa.update(_credentials).where(_credentials.c.id == cred_id)
                     .values(blob=ciphertext, key_hash=key_hash))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_credentials.c.id, _credentials.c.blob)
                        .where(_credentials.c.key_hash.is_not(None))).all()
    if rows:
        keys = CredentialKeys(repository_path(CONF))
        for cred_id, blob in rows:
            bind.execute(sa.update(_credentials).where(_credentials.c.id == cred_id)
                         .values(blob=keys.decrypt(blob), key_hash=None))
    with op.batch_alter_table("identity_credentials") as batch:
        batch.drop_column("key_hash")
