"""notices: the outbox of e-mail notices, and where each request's notices go

users.email is the account's address; demandes.email and demandes.langue the address
and language of one request's notices, fixed at its confirmation.

Revision ID: 0011_notices
Revises: 0010_empreintes_import
Create Date: 2026-12-07 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_notices'
down_revision = '0010_empreintes_import'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
    with op.batch_alter_table('demandes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column('langue', sa.String(length=2), server_default='fr', nullable=False)
        )
    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('demande_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('rang', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('langue', sa.String(length=2), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_until', sa.DateTime(), nullable=True),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "status in ('queued', 'sent', 'failed')", name=op.f('ck_notices_notice_status')
        ),
        sa.ForeignKeyConstraint(
            ['demande_id'], ['demandes.id'],
            name=op.f('fk_notices_demande_id_demandes'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
        sa.UniqueConstraint('demande_id', 'kind', 'rang', name='notice_once'),
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_status_next', ['status', 'next_attempt_at'])


def downgrade():
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_status_next')
    op.drop_table('notices')
    with op.batch_alter_table('demandes', schema=None) as batch_op:
        batch_op.drop_column('langue')
        batch_op.drop_column('email')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email')
