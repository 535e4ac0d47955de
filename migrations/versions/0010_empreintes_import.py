"""empreintes_import: the fingerprint of each affilié's raw lines in the last import

A nightly export differs from the last one for about 1 % of the affiliés. The import
keeps, per affilié and file, the md5 of the affilié's lines as the file wrote them, and
the affilié's ``lignes_jeton`` at that time: the next import parses, checks and compares
only the affiliés whose fingerprint differs, or whose version changed since (a write
that did not come from the file).

Revision ID: 0010_empreintes_import
Revises: 0009_affilie_jeton
Create Date: 2026-12-07 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_empreintes_import'
down_revision = '0009_affilie_jeton'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'empreintes_import',
        sa.Column('affilie_id', sa.Integer(), nullable=False),
        sa.Column('fichier', sa.String(length=16), nullable=False),
        sa.Column('empreinte', sa.String(length=32), nullable=False),
        sa.Column('jeton', sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ['affilie_id'],
            ['affilies.id'],
            name=op.f('fk_empreintes_import_affilie_id_affilies'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('affilie_id', 'fichier', name=op.f('pk_empreintes_import')),
    )


def downgrade():
    op.drop_table('empreintes_import')
