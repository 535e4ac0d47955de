"""``flask import-data DIR``: affiliés, RIBs and créance lines from CSV, all or nothing."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import delete, insert, select, text

from db.models import Affilie, CompteBancaire, LigneCreance, Perception
from domain.creance import NATURES, RUBRIQUES, is_valid_period
from domain.identifiers import is_valid_affiliation, is_valid_ice, is_valid_rib, normalize_rib
from domain.money import AmountError, parse_csv_amount
from extensions import db

AFFILIES_COLUMNS = (
    "numero_affiliation",
    "raison_sociale",
    "regime",
    "ice",
    "perception",
    "date_situation",
    "date_arret_penalites",
    "arrangement",
)
RIBS_COLUMNS = ("numero_affiliation", "rib", "banque")
CREANCES_COLUMNS = ("numero_affiliation", "periode", "rubrique", "nature", "montant")
TRUE_WORDS = {"1", "true", "oui", "vrai", "yes"}
FALSE_WORDS = {"0", "false", "non", "faux", "no", ""}
# date.fromisoformat also takes "20231108" and "2023-W45-3"; the files use AAAA-MM-JJ only.
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# NUMERIC(14, 2): a longer amount overflows on PostgreSQL and loses centimes in SQLite's REAL.
MONTANT_MAX_INTEGER_DIGITS = LigneCreance.__table__.c.montant.type.precision - 2


class ImportError_(Exception):
    """The import was refused; ``errors`` lists every bad row."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class ImportReport:
    affilies: int = 0
    ribs: int = 0
    lignes: int = 0
    errors: list[str] = field(default_factory=list)


def _rows(path: Path, columns: tuple[str, ...], errors: list[str]):
    """Yield (line number, row dict) of a UTF-8 CSV whose header has every column."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        errors.append(f"{path.name} : lecture impossible ({exc.strerror})")
        return
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                errors.append(f"{path.name}, ligne 1 : colonne manquante : {', '.join(missing)}")
                return
            for row in reader:
                if None in row or any(row[c] is None for c in columns):
                    errors.append(
                        f"{path.name}, ligne {reader.line_num} : nombre de champs incorrect"
                    )
                    continue
                yield reader.line_num, {c: row[c].strip() for c in columns}
        except UnicodeDecodeError:
            errors.append(f"{path.name} : le fichier n'est pas en UTF-8")
        except csv.Error as exc:
            errors.append(f"{path.name}, ligne {reader.line_num} : CSV illisible ({exc})")


def _iso_date(value: str) -> date | None:
    if not _ISO_DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def import_directory(directory: Path) -> ImportReport:
    """Validate every file first, then write everything in one transaction."""
    report = ImportReport()
    errors = report.errors
    files = {name: directory / f"{name}.csv" for name in ("affilies", "ribs", "creances")}
    if not any(p.exists() for p in files.values()):
        raise ImportError_(
            [f"{directory} : aucun des fichiers affilies.csv, ribs.csv, creances.csv"]
        )

    affilies: dict[str, dict] = {}
    if files["affilies"].exists():
        for n, row in _rows(files["affilies"], AFFILIES_COLUMNS, errors):
            where = f"affilies.csv, ligne {n}"
            parsed = _parse_affilie(row, where, errors)
            if parsed and parsed["numero"] in affilies:
                errors.append(f"{where}, champ numero_affiliation : affilié en double")
            elif parsed:
                affilies[parsed["numero"]] = parsed

    known = set(affilies) | set(db.session.scalars(select(Affilie.numero)))

    ribs: list[dict] = []
    if files["ribs"].exists():
        for n, row in _rows(files["ribs"], RIBS_COLUMNS, errors):
            where = f"ribs.csv, ligne {n}"
            numero, rib = row["numero_affiliation"], normalize_rib(row["rib"])
            if numero not in known:
                errors.append(f"{where}, champ numero_affiliation : affilié inconnu « {numero} »")
            elif not is_valid_rib(rib):
                errors.append(f"{where}, champ rib : RIB invalide (24 chiffres, clé modulo 97)")
            elif not row["banque"] or len(row["banque"]) > 120:
                errors.append(f"{where}, champ banque : obligatoire (120 caractères au plus)")
            else:
                ribs.append({"numero": numero, "rib": rib, "banque": row["banque"]})

    lignes: dict[str, list[dict]] = {}
    if files["creances"].exists():
        for n, row in _rows(files["creances"], CREANCES_COLUMNS, errors):
            where = f"creances.csv, ligne {n}"
            parsed = _parse_ligne(row, where, known, errors)
            if parsed:
                lignes.setdefault(row["numero_affiliation"], []).append(parsed)

    if errors:
        raise ImportError_(errors)

    try:
        _write(affilies, ribs, lignes, report)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if lignes and db.engine.dialect.name == "postgresql":
        # Statistics for the new lines now, not at autovacuum's next pass: each affilié's
        # first consolidation plans its GROUP BY with them (for 8 rows, it would sort
        # 12 000).
        db.session.execute(text("ANALYZE lignes_creance"))
        db.session.commit()
    return report


def _parse_affilie(row: dict, where: str, errors: list[str]) -> dict | None:
    before = len(errors)
    if not is_valid_affiliation(row["numero_affiliation"]):
        errors.append(f"{where}, champ numero_affiliation : 7 chiffres attendus")
    if not row["raison_sociale"] or len(row["raison_sociale"]) > 200:
        errors.append(f"{where}, champ raison_sociale : obligatoire (200 caractères au plus)")
    if not row["regime"] or len(row["regime"]) > 80:
        errors.append(f"{where}, champ regime : obligatoire (80 caractères au plus)")
    # stdnum accepts "00153 4287000041"; store the 15 digits, as the column expects.
    ice = "".join(row["ice"].split())
    if ice and not is_valid_ice(ice):
        errors.append(f"{where}, champ ice : ICE invalide (15 chiffres, clé ISO 7064)")
    if not row["perception"] or len(row["perception"]) > 120:
        errors.append(f"{where}, champ perception : obligatoire (120 caractères au plus)")
    situation = _iso_date(row["date_situation"])
    if situation is None:
        errors.append(f"{where}, champ date_situation : date invalide (AAAA-MM-JJ)")
    arret = _iso_date(row["date_arret_penalites"])
    if arret is None:
        errors.append(f"{where}, champ date_arret_penalites : date invalide (AAAA-MM-JJ)")
    flag = row["arrangement"].lower()
    if flag not in TRUE_WORDS | FALSE_WORDS:
        errors.append(f"{where}, champ arrangement : attendu 1/0, oui/non ou true/false")
    if len(errors) > before:
        return None
    return {
        "numero": row["numero_affiliation"],
        "raison_sociale": row["raison_sociale"],
        "regime": row["regime"],
        "ice": ice or None,
        "perception": row["perception"],
        "date_situation": situation,
        "date_arret_penalites": arret,
        "arrangement": flag in TRUE_WORDS,
    }


def _parse_ligne(row: dict, where: str, known: set[str], errors: list[str]) -> dict | None:
    before = len(errors)
    if row["numero_affiliation"] not in known:
        errors.append(
            f"{where}, champ numero_affiliation : affilié inconnu « {row['numero_affiliation']} »"
        )
    if not is_valid_period(row["periode"]):
        errors.append(f"{where}, champ periode : période invalide « {row['periode']} » (AAAAMM)")
    if row["rubrique"] not in RUBRIQUES:
        errors.append(
            f"{where}, champ rubrique : rubrique inconnue « {row['rubrique']} » "
            f"(attendu {' '.join(RUBRIQUES)})"
        )
    if row["nature"] not in NATURES:
        errors.append(
            f"{where}, champ nature : nature inconnue « {row['nature']} » "
            f"(attendu {' '.join(NATURES)})"
        )
    try:
        montant = parse_csv_amount(row["montant"])
    except AmountError as exc:
        reason = "2 décimales au plus" if exc.code == "too_many_decimals" else "montant invalide"
        errors.append(f"{where}, champ montant : {reason} « {row['montant']} »")
        montant = None
    if montant is not None and abs(montant) >= 10**MONTANT_MAX_INTEGER_DIGITS:
        errors.append(
            f"{where}, champ montant : montant trop grand « {row['montant']} » "
            f"({MONTANT_MAX_INTEGER_DIGITS} chiffres avant la virgule au plus)"
        )
    if len(errors) > before:
        return None
    return {
        "periode": row["periode"],
        "rubrique": row["rubrique"],
        "nature": row["nature"],
        "montant": montant,
    }


def _write(affilies: dict, ribs: list[dict], lignes: dict, report: ImportReport) -> None:
    perceptions = {p.name: p for p in db.session.scalars(select(Perception))}
    for data in affilies.values():
        name = data.pop("perception")
        if name not in perceptions:
            perceptions[name] = Perception(name=name)
            db.session.add(perceptions[name])
        affilie = db.session.scalars(
            select(Affilie).where(Affilie.numero == data["numero"])
        ).first() or Affilie(numero=data["numero"])
        for key, value in data.items():
            setattr(affilie, key, value)
        affilie.perception = perceptions[name]
        db.session.add(affilie)
        report.affilies += 1
    db.session.flush()

    ids = dict(db.session.execute(select(Affilie.numero, Affilie.id)).all())
    for data in ribs:
        exists = db.session.scalars(
            select(CompteBancaire).where(
                CompteBancaire.affilie_id == ids[data["numero"]],
                CompteBancaire.rib == data["rib"],
            )
        ).first()
        if exists:
            exists.banque = data["banque"]
        else:
            db.session.add(
                CompteBancaire(
                    affilie_id=ids[data["numero"]], rib=data["rib"], banque=data["banque"]
                )
            )
        report.ribs += 1

    # A new file of lines is a new situation: it replaces the affilié's previous lines.
    for numero, rows in lignes.items():
        affilie_id = ids[numero]
        db.session.execute(delete(LigneCreance).where(LigneCreance.affilie_id == affilie_id))
        db.session.execute(insert(LigneCreance), [{"affilie_id": affilie_id, **r} for r in rows])
        report.lignes += len(rows)
