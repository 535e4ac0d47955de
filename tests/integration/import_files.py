"""The import's CSV files as the integration tests write them: the headers, a good batch (a new
affilié in a new perception, its RIB and its lines), the command run on a directory, its
error lines, and the rows counted.
"""

from sqlalchemy import func, select

from db.models import Affilie, CompteBancaire, LigneCreance, Perception
from domain.identifiers import ice_with_check, rib_with_key
from extensions import db

NEW = "8000001"
ICE = ice_with_check("0099887760000")
RIB = rib_with_key("0117800000123456789012")
AFFILIES_HEADER = (
    "numero_affiliation,raison_sociale,regime,ice,perception,"
    "date_situation,date_arret_penalites,arrangement"
)
RIBS_HEADER = "numero_affiliation,rib,banque"
CREANCES_HEADER = "numero_affiliation,periode,rubrique,nature,montant"


def good_batch() -> dict[str, list[str]]:
    """A new affilié in a new perception, its RIB and its lines: the import accepts it."""
    return {
        "affilies.csv": [
            AFFILIES_HEADER,
            # The ICE as people type it, in groups: stored as its 15 digits.
            f"{NEW},SAISS CERAMIQUE,Régime général,{ICE[:5]} {ICE[5:]},"
            "Perception Fès Saïss,2023-11-08,2023-11-08,non",
        ],
        "ribs.csv": [
            RIBS_HEADER,
            f"{NEW},{RIB[:3]} {RIB[3:6]} {RIB[6:22]} {RIB[22:]},Bank of Africa",
        ],
        "creances.csv": [
            CREANCES_HEADER,
            f"{NEW},201901,CSS,principal,1000.00",
            f"{NEW},202312,CSS,majorations,250.5",
            f"{NEW},202312,AST_BDS,majorations,80",
            # After the campaign's last eligible period: imported, left out of the remise.
            f"{NEW},202502,AMO,principal,99.99",
        ],
    }


def write(directory, files: dict[str, list[str]], encoding: str = "utf-8") -> None:
    for name, lines in files.items():
        (directory / name).write_bytes(("\n".join(lines) + "\n").encode(encoding))


def import_data(runner, directory):
    return runner.invoke(args=["import-data", str(directory)])


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Erreur : ")]


def counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Affilie, LigneCreance, CompteBancaire, Perception)
    }
