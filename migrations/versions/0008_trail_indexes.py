"""audit_events and garanties indexed by request: a request's trail without a table scan

A request's page reads its trail and its guarantees, and each event recorded appends to
the trail: by request, among the millions of events of a national campaign.

Revision ID: 0008_trail_indexes
Revises: 0007_operator_commands
Create Date: 2026-12-07 02:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008_trail_indexes'
down_revision = '0007_operator_commands'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('audit_events', 'garanties'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_demande_id'), ['demande_id'])


def downgrade():
    for table in ('garanties', 'audit_events'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_demande_id'))
