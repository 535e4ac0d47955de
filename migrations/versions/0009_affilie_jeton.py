"""affilies.jeton: the version of what a slider move keeps of an affilié; users.liens_jeton goes

A move reads the version of the affilié its address names (its row, its bank accounts and
its perception's name: ``jeton``; its lines: ``lignes_jeton``) in the user's own statement,
which checks the account's link at the same time. The account-wide version it replaces
was not changed by ``import-data``.

Revision ID: 0009_affilie_jeton
Revises: 0008_trail_indexes
Create Date: 2026-12-07 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_affilie_jeton'
down_revision = '0008_trail_indexes'
branch_labels = None
depends_on = None


def _random_jeton():
    if op.get_bind().dialect.name == 'postgresql':
        return "md5(random()::text || clock_timestamp()::text)"
    return "lower(hex(randomblob(16)))"


def upgrade():
    with op.batch_alter_table('affilies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jeton', sa.String(length=32), nullable=True))
    op.execute(f"UPDATE affilies SET jeton = {_random_jeton()}")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('liens_jeton')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('liens_jeton', sa.String(length=32), nullable=True))
    op.execute(f"UPDATE users SET liens_jeton = {_random_jeton()}")
    with op.batch_alter_table('affilies', schema=None) as batch_op:
        batch_op.drop_column('jeton')
