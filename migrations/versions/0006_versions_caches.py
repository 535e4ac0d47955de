"""users.liens_jeton and cache_versions: the versions a slider move's caches are kept under

Revision ID: 0006_versions_caches
Revises: 0005_search_at_scale
Create Date: 2026-11-30 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_versions_caches'
down_revision = '0005_search_at_scale'
branch_labels = None
depends_on = None


def _random_jeton():
    if op.get_bind().dialect.name == 'postgresql':
        return "md5(random()::text || clock_timestamp()::text)"
    return "lower(hex(randomblob(16)))"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('liens_jeton', sa.String(length=32), nullable=True))
    op.execute(f"UPDATE users SET liens_jeton = {_random_jeton()}")
    op.create_table(
        'cache_versions',
        sa.Column('nom', sa.String(length=40), nullable=False),
        sa.Column('jeton', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('nom', name=op.f('pk_cache_versions')),
    )
    op.execute(f"INSERT INTO cache_versions (nom, jeton) VALUES ('campagnes', {_random_jeton()})")


def downgrade():
    op.drop_table('cache_versions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('liens_jeton')
