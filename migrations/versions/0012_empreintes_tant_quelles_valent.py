"""empreintes_import: a fingerprint is kept while it holds, and found by numéro

The nightly import reads each file's kept fingerprints in numéro order beside the file.
They were found through the affilié, whose ``lignes_jeton`` they were compared with: a
join of every fingerprint with every affilié, and a sort, for each file. Now a
fingerprint carries its affilié's numéro (indexed with the file, in byte order, the
order the import reads the file in), and it exists only while it holds: on PostgreSQL a
trigger deletes an affilié's fingerprints when its ``lignes_jeton`` changes (every write
to its lines, fields or RIBs, whatever wrote it). The import puts back, after its own
writes, those of the files it wrote nothing of for the affilié. The fingerprints that no
longer held are deleted here; the column ``jeton`` goes.

Revision ID: 0012_empreintes_valides
Revises: 0011_notices
Create Date: 2026-12-07 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_empreintes_valides'
down_revision = '0011_notices'
branch_labels = None
depends_on = None


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    numero = sa.String(length=7, collation='C') if postgresql else sa.String(length=7)
    with op.batch_alter_table('empreintes_import', schema=None) as batch_op:
        batch_op.add_column(sa.Column('numero', numero, nullable=True))
    op.execute(
        "DELETE FROM empreintes_import WHERE NOT EXISTS (SELECT 1 FROM affilies a "
        "WHERE a.id = empreintes_import.affilie_id AND a.lignes_jeton = empreintes_import.jeton)"
    )
    op.execute(
        "UPDATE empreintes_import SET numero = (SELECT numero FROM affilies a "
        "WHERE a.id = empreintes_import.affilie_id)"
    )
    with op.batch_alter_table('empreintes_import', schema=None) as batch_op:
        batch_op.alter_column('numero', existing_type=numero, nullable=False)
        batch_op.drop_column('jeton')
        batch_op.create_index(
            'ix_empreintes_import_fichier_numero', ['fichier', 'numero'], unique=True
        )
    if postgresql:
        op.execute(
            """
            CREATE FUNCTION empreintes_import_perimees() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                DELETE FROM empreintes_import WHERE affilie_id = NEW.id;
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            """
            CREATE TRIGGER tr_affilies_empreintes_import AFTER UPDATE OF lignes_jeton
            ON affilies FOR EACH ROW
            WHEN (OLD.lignes_jeton IS DISTINCT FROM NEW.lignes_jeton)
            EXECUTE FUNCTION empreintes_import_perimees()
            """
        )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER tr_affilies_empreintes_import ON affilies")
        op.execute("DROP FUNCTION empreintes_import_perimees()")
    # The kept fingerprints hold; without a version to compare, the next import checks
    # every line again.
    op.execute("DELETE FROM empreintes_import")
    with op.batch_alter_table('empreintes_import', schema=None) as batch_op:
        batch_op.drop_index('ix_empreintes_import_fichier_numero')
        batch_op.add_column(sa.Column('jeton', sa.String(length=32), nullable=True))
        batch_op.drop_column('numero')
