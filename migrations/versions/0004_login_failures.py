"""login_failures: the per-account login lockout, held by the database

Revision ID: 0004_login_failures
Revises: 0003_lignes_jeton
Create Date: 2026-11-30 04:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_login_failures'
down_revision = '0003_lignes_jeton'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_failures',
        sa.Column('cle', sa.String(length=64), nullable=False),
        sa.Column('echecs', sa.Integer(), nullable=False),
        sa.Column('premier_echec', sa.DateTime(), nullable=False),
        sa.Column('bloque_jusqua', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('cle', name=op.f('pk_login_failures')),
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_login_failures_premier_echec'), ['premier_echec'], unique=False
        )


def downgrade():
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_premier_echec'))
    op.drop_table('login_failures')
