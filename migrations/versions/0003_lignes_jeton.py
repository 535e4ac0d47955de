"""lignes_jeton: the affilié's créance lines version, the key of the consolidation cache

Revision ID: 0003_lignes_jeton
Revises: 0002_reintegrations
Create Date: 2026-11-28 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_lignes_jeton'
down_revision = '0002_reintegrations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('affilies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lignes_jeton', sa.String(length=32), nullable=True))
    # A random value per existing affilié, as new rows get one from the application.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE affilies SET lignes_jeton = md5(random()::text || id::text)")
    else:
        op.execute("UPDATE affilies SET lignes_jeton = lower(hex(randomblob(16)))")


def downgrade():
    with op.batch_alter_table('affilies', schema=None) as batch_op:
        batch_op.drop_column('lignes_jeton')
