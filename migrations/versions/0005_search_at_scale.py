"""search at scale: a folded search column, trigram and paging indexes

Revision ID: 0005_search_at_scale
Revises: 0004_login_failures
Create Date: 2026-11-30 05:00:00.000000

The back office searches a perception of 300 000 affiliés and 100 000 requests by
numéro, ICE, référence or a piece of the raison sociale, whatever its accents and case.
Each row gets ``recherche``: those fields folded (lower case, no accents) side by side,
written by the application (db/models.py, the importer). On PostgreSQL a trigram index
(extension pg_trgm, which this revision creates: the migrating role needs the right to
CREATE EXTENSION, or a superuser creates it beforehand) answers ``LIKE '%…%'`` on it.
The btree indexes give the lists their order without sorting.
"""
from alembic import op
import sqlalchemy as sa

from domain.search import search_text


# revision identifiers, used by Alembic.
revision = '0005_search_at_scale'
down_revision = '0004_login_failures'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('affilies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recherche', sa.Text(), nullable=True))
        batch_op.create_index('ix_affilies_perception_numero', ['perception_id', 'numero'])
    with op.batch_alter_table('demandes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recherche', sa.Text(), nullable=True))
        batch_op.create_index(
            'ix_demandes_perception_confirmed', ['perception_id', 'confirmed_at', 'id']
        )
        batch_op.create_index(
            'ix_demandes_perception_status_confirmed',
            ['perception_id', 'status', 'confirmed_at', 'id'],
        )
    bind = op.get_bind()
    affilies = bind.execute(sa.text('SELECT id, numero, ice, raison_sociale FROM affilies'))
    for row in affilies.mappings().all():
        bind.execute(
            sa.text('UPDATE affilies SET recherche = :r WHERE id = :id'),
            {'r': search_text(row['numero'], row['ice'], row['raison_sociale']), 'id': row['id']},
        )
    demandes = bind.execute(
        sa.text(
            'SELECT d.id, d.reference, d.numero_affiliation, a.ice, d.raison_sociale '
            'FROM demandes d JOIN affilies a ON a.id = d.affilie_id'
        )
    )
    for row in demandes.mappings().all():
        bind.execute(
            sa.text('UPDATE demandes SET recherche = :r WHERE id = :id'),
            {
                'r': search_text(
                    row['reference'], row['numero_affiliation'], row['ice'], row['raison_sociale']
                ),
                'id': row['id'],
            },
        )
    if bind.dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute(
            'CREATE INDEX ix_affilies_recherche ON affilies USING gin (recherche gin_trgm_ops)'
        )
        op.execute(
            'CREATE INDEX ix_demandes_recherche ON demandes USING gin (recherche gin_trgm_ops)'
        )
    else:
        op.create_index('ix_affilies_recherche', 'affilies', ['recherche'])
        op.create_index('ix_demandes_recherche', 'demandes', ['recherche'])


def downgrade():
    op.drop_index('ix_demandes_recherche', 'demandes')
    op.drop_index('ix_affilies_recherche', 'affilies')
    with op.batch_alter_table('demandes', schema=None) as batch_op:
        batch_op.drop_index('ix_demandes_perception_status_confirmed')
        batch_op.drop_index('ix_demandes_perception_confirmed')
        batch_op.drop_column('recherche')
    with op.batch_alter_table('affilies', schema=None) as batch_op:
        batch_op.drop_index('ix_affilies_perception_numero')
        batch_op.drop_column('recherche')
