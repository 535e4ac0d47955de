"""reintegrations: amounts reinstated when a request is cancelled for default

Revision ID: 0002_reintegrations
Revises: 0001_initial
Create Date: 2026-11-28 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_reintegrations'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reintegrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('demande_id', sa.Integer(), nullable=False),
    sa.Column('affilie_id', sa.Integer(), nullable=False),
    sa.Column('montant_remise', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('montant_majorations', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('montant_paye', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('by_label', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['affilie_id'], ['affilies.id'], name=op.f('fk_reintegrations_affilie_id_affilies')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_reintegrations_by_id_users')),
    sa.ForeignKeyConstraint(['demande_id'], ['demandes.id'], name=op.f('fk_reintegrations_demande_id_demandes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reintegrations')),
    sa.UniqueConstraint('demande_id', name=op.f('uq_reintegrations_demande_id'))
    )
    with op.batch_alter_table('reintegrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reintegrations_affilie_id'), ['affilie_id'], unique=False)


def downgrade():
    with op.batch_alter_table('reintegrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reintegrations_affilie_id'))

    op.drop_table('reintegrations')
