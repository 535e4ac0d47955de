"""users.active and operator_events: disabled accounts, the operators' trail

Accounts are disabled from the command line (flask user disable); operator_events keeps
who changed what (accounts, campaigns) and when.

Revision ID: 0007_operator_commands
Revises: 0006_versions_caches
Create Date: 2026-11-30 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_operator_commands'
down_revision = '0006_versions_caches'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.create_table(
        'operator_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('operator', sa.String(length=120), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('target', sa.String(length=120), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_events')),
    )
    with op.batch_alter_table('operator_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_events_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_operator_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_operator_events_target'), ['target'], unique=False)


def downgrade():
    with op.batch_alter_table('operator_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_events_target'))
        batch_op.drop_index(batch_op.f('ix_operator_events_at'))
        batch_op.drop_index(batch_op.f('ix_operator_events_action'))
    op.drop_table('operator_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('active')
