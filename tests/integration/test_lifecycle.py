"""A request's whole life, through the UI and the CLI: the affiliate confirms on the
portal, the agent records guarantees, the bank debits, the return file settles it — or a
rejected debit cancels it and reinstates the remise, or no guarantees and it expires."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from db.models import Affilie, Demande, Reintegration
from extensions import db
from tests.integration.back_office import (
    AGENT_CASA,
    DEMO_REFERENCE,
    GARANTIE,
    GUIDE,
    INTEGRAL,
    definitive,
    get,
    mad,
    post,
    snapshot,
)

DEBIT_HEADER = "reference,affiliation,rib,montant,echeance\n"


def confirm_on_the_portal(client, auth, numero: str, modalite: str, **simulation) -> Demande:
    """The affiliate's journey as blueprints/demande expects it, without JavaScript."""
    auth.login("groupe")
    affilie = db.session.scalars(select(Affilie).where(Affilie.numero == numero)).one()
    response = client.post(
        f"/demande/{numero}/parametrage",
        data={"modalite": modalite, "compte": affilie.comptes[0].id, "garanties": "1"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response = client.post(
        f"/demande/{numero}/simulation", data={"action": "valider", "cgu": "1", **simulation}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(f"/demande/{numero}/validation").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page)[1]
    response = client.post(f"/demande/{numero}/confirmer", data={"token": token})
    assert response.status_code == 303
    reference = re.search(r"/demandes/([A-Z0-9-]+)\?confirmee=1", response.location)[1]
    auth.logout()
    return db.session.scalars(select(Demande).where(Demande.reference == reference)).one()


def confirm_plan(client, auth) -> Demande:
    """The guide's instalments example: avance 5 000,00, 2 instalments, on 20/11/2023."""
    return confirm_on_the_portal(
        client,
        auth,
        GUIDE,
        "acomptes",
        avance="5 000,00",
        nombre_echeances="2",
        curseur="2",
    )


def record_guarantees(client, auth, demande: Demande) -> None:
    auth.login(AGENT_CASA)
    response = client.post(f"/perception/demandes/{demande.reference}/garanties", data=GARANTIE)
    assert response.status_code == 303, response.get_data(as_text=True)
    client.get(response.location)  # shows (and so clears) the confirmation message


def debit_file(runner, day: str, *extra) -> str:
    result = runner.invoke(args=["debit-file", "--date", day, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def upload(client, content: str):
    return client.post(
        "/perception/prelevements/retour",
        data={"fichier": (io.BytesIO(content.encode()), "retour.csv")},
        content_type="multipart/form-data",
    )


def test_plan_validated_debited_and_settled(client, auth, runner, clock, tmp_path):
    demande = confirm_plan(client, auth)
    ref, rib = demande.reference, demande.rib
    assert demande.status == "en_attente_garanties"
    figures = snapshot(demande)

    record_guarantees(client, auth, demande)
    db.session.refresh(demande)
    assert demande.status == "validee"
    assert demande.validated_at == datetime(2023, 11, 20, 10, 30)
    # Validated 20/11/2023: the avance on 10/12/2023, then the 10th of each month.
    assert definitive(demande) == [
        (0, date(2023, 12, 10), Decimal("5000.00"), "a_prelever"),
        (1, date(2024, 1, 10), Decimal("8475.32"), "a_prelever"),
        (2, date(2024, 2, 10), Decimal("8475.31"), "a_prelever"),
    ]
    detail = get(client, f"/perception/demandes/{ref}")
    assert detail.rows_after("echeancier")[1:] == [
        [
            "Avance",
            "10/12/2023",
            mad("5 000,00"),
            "À prélever",
            "À saisir après le prélèvement du 10/12/2023",
        ],
        [
            "Échéance 1",
            "10/01/2024",
            mad("8 475,32"),
            "À prélever",
            "À saisir après le prélèvement du 10/01/2024",
        ],
        [
            "Échéance 2",
            "10/02/2024",
            mad("8 475,31"),
            "À prélever",
            "À saisir après le prélèvement du 10/02/2024",
        ],
    ]
    assert detail.rows_after("garanties")[1][:4] == [
        "Caution bancaire",
        "CB-2023-0042",
        "20/11/2023",
        "Caution de la Banque Populaire",
    ]

    # The bank's debit files, one per debit day; the demo request (not validated) is absent.
    assert debit_file(runner, "2023-12-10") == DEBIT_HEADER + f"{ref},{GUIDE},{rib},5000.00,0\n"
    target = tmp_path / "prelevements-2024-01-10.csv"
    result = runner.invoke(args=["debit-file", "--date", "2024-01-10", "--output", str(target)])
    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == (DEBIT_HEADER + f"{ref},{GUIDE},{rib},8475.32,1\n")
    assert re.search(
        rf"^1 prélèvement\(s\) du 10/01/2024 écrit\(s\) dans {re.escape(str(target))} "
        r"en [0-9]+,[0-9]{2} s\.$",
        result.output,
        re.MULTILINE,
    )
    assert debit_file(runner, "2024-02-10") == DEBIT_HEADER + f"{ref},{GUIDE},{rib},8475.31,2\n"
    assert debit_file(runner, "2023-12-11") == DEBIT_HEADER

    clock.set(datetime(2024, 2, 12, 9, 0))
    response = upload(
        client, f"reference,echeance,statut\n{ref},0,payee\n{ref},1,payee\n{ref},2,payee\n"
    )
    assert response.status_code == 303
    page = get(client, response.location)
    assert page.flashes() == [
        "Fichier retour enregistré : 3 prélèvement(s) payé(s), 0 rejeté(s).",
        f"Demande(s) soldée(s) : {ref}.",
    ]
    db.session.refresh(demande)
    assert demande.status == "soldee"
    assert [s for *_x, s in definitive(demande)] == ["payee"] * 3
    # Paid échéances are no longer debited.
    assert debit_file(runner, "2024-02-10") == DEBIT_HEADER

    history = get(client, f"/perception/demandes/{ref}").rows_after("historique")[1:]
    assert [row[:4] for row in history] == [
        [
            "20/11/2023 10:30",
            "Groupe Atlas Holding",
            "Confirmation de la demande",
            "En attente de garanties",
        ],
        [
            "20/11/2023 10:30",
            "Agent — Perception Casablanca Anfa",
            "Validation (garanties déposées)",
            "En attente de garanties → Validée",
        ],
        ["12/02/2024 09:00", "Agent — Perception Casablanca Anfa", "Résultat de prélèvement", "—"],
        ["12/02/2024 09:00", "Agent — Perception Casablanca Anfa", "Résultat de prélèvement", "—"],
        ["12/02/2024 09:00", "Agent — Perception Casablanca Anfa", "Résultat de prélèvement", "—"],
        ["12/02/2024 09:00", "Agent — Perception Casablanca Anfa", "Solde", "Validée → Soldée"],
    ]
    assert history[1][4] == (
        "Garanties déposées le 20/11/2023 : Caution bancaire, référence CB-2023-0042"
    )
    assert history[2][4] == (
        "Prélèvement de l'avance du 10/12/2023 (5 000,00 MAD) : payée (fichier retour de la banque)"
    )
    # Guarantees, debits and the return file changed the status, never a figure.
    assert snapshot(demande) == figures


def test_rejected_debit_cancels_and_reinstates_the_remise(client, auth, runner, clock):
    demande = confirm_plan(client, auth)
    ref = demande.reference
    figures = snapshot(demande)
    record_guarantees(client, auth, demande)

    clock.set(datetime(2023, 12, 11, 9, 0))
    response = client.post(f"/perception/demandes/{ref}/echeances/0", data={"statut": "payee"})
    assert get(client, response.location).flashes() == [
        "Prélèvement de l'avance enregistré : payé."
    ]
    clock.set(datetime(2024, 1, 11, 9, 0))
    response = client.post(
        f"/perception/demandes/{ref}/echeances/1", data={"statut": "rejetee", "confirme": "1"}
    )
    assert response.status_code == 303
    page = get(client, response.location)
    assert page.flashes() == [
        "Prélèvement de l'échéance n° 1 enregistré : rejeté.",
        "La demande est annulée pour défaut de paiement : la remise et les majorations "
        "générées sont réintégrées à la créance de l'affilié.",
    ]
    db.session.refresh(demande)
    assert demande.status == "annulee"

    reintegration = db.session.scalars(select(Reintegration)).one()
    assert (
        reintegration.demande_id,
        reintegration.affilie_id,
        reintegration.montant_remise,
        reintegration.montant_majorations,
        reintegration.montant_paye,
        reintegration.at,
        reintegration.by_label,
    ) == (
        demande.id,
        demande.affilie_id,
        Decimal("5756.86"),
        Decimal("139.12"),
        Decimal("5000.00"),
        datetime(2024, 1, 11, 9, 0),
        "Agent — Perception Casablanca Anfa",
    )
    assert reintegration.total == Decimal("5895.98")
    # 21 950,63 to pay − 5 000,00 paid + 5 895,98 reinstated.
    assert reintegration.reste_du == Decimal("22846.61")

    reinstated_row = [
        mad("5 756,86"),
        mad("139,12"),
        mad("5 895,98"),
        mad("5 000,00"),
        mad("22 846,61"),
    ]
    assert page.rows_after("reintegration")[1] == [
        "11/01/2024 Agent — Perception Casablanca Anfa",
        *reinstated_row,
    ]
    assert page.rows_after("historique")[-1][2:] == [
        "Annulation pour défaut de paiement",
        "Validée → Annulée",
        "Prélèvement rejeté (échéance 1 du 10/01/2024) : remise de 5 756,86 MAD et majorations "
        "générées de 139,12 MAD réintégrées (5 895,98 MAD)",
    ]
    # No more debits, no more results for a cancelled request.
    assert debit_file(runner, "2024-02-10") == DEBIT_HEADER
    refused = post(client, f"/perception/demandes/{ref}/echeances/2", {"statut": "payee"})
    assert refused.status == 409
    assert refused.refusal() == (
        f"La demande {ref} est « Annulée » : aucun prélèvement n'est attendu."
    )

    # The affilié's view: its debt now includes the reinstated amounts.
    affilie = get(client, f"/perception/affilies/{GUIDE}")
    assert affilie.rows_after("reintegrations")[1] == [
        ref,
        "11/01/2024 Agent — Perception Casablanca Anfa",
        *reinstated_row,
    ]
    assert (
        "Créance de l'affilié au titre des demandes annulées, montants réintégrés compris : "
        + mad("22 846,61")
    ) in affilie.text
    assert snapshot(demande) == figures


def test_the_history_motifs_in_arabic(client, auth, clock):
    """The trail stores its motifs in French; an agent reading in Arabic reads them in
    Arabic, with the same dates, figures and references."""
    demande = confirm_plan(client, auth)
    ref = demande.reference
    record_guarantees(client, auth, demande)
    clock.set(datetime(2023, 12, 11, 9, 0))
    client.post(f"/perception/demandes/{ref}/echeances/0", data={"statut": "payee"})
    clock.set(datetime(2024, 1, 11, 9, 0))
    client.post(
        f"/perception/demandes/{ref}/echeances/1", data={"statut": "rejetee", "confirme": "1"}
    )
    client.post("/langue", data={"lang": "ar"})

    history = get(client, f"/perception/demandes/{ref}").rows_after("historique")
    motifs = [row[4] for row in history[1:]]  # after the header
    assert motifs == [
        "تم تأكيد الطلب عبر البوابة",
        "تم إيداع الضمانات بتاريخ 20/11/2023: كفالة بنكية، المرجع CB-2023-0042",
        "اقتطاع التسبيق بتاريخ 10/12/2023 (\u20665.000,00\u00a0MAD\u2069): مؤداة (إدخال العون)",
        "اقتطاع القسط 1 بتاريخ 10/01/2024 (\u20668.475,32\u00a0MAD\u2069): مرفوضة (إدخال العون)",
        "اقتطاع مرفوض (القسط 1 بتاريخ 10/01/2024): أعيد إدماج الإعفاء البالغ "
        "\u20665.756,86\u00a0MAD\u2069 والزيادات المترتبة البالغة \u2066139,12\u00a0MAD\u2069 "
        "(\u20665.895,98\u00a0MAD\u2069)",
    ]


def test_plan_without_guarantees_expires_on_day_31_not_30(client, auth, runner, clock):
    demande = confirm_plan(client, auth)
    ref = demande.reference
    auth.login(AGENT_CASA)

    clock.set(datetime(2023, 12, 20, 23, 59))  # day 30: still within the deadline
    result = runner.invoke(args=["expire-requests"])
    assert (result.exit_code, result.output) == (0, "0 demande(s) expirée(s).\n")
    db.session.refresh(demande)
    assert demande.status == "en_attente_garanties"
    waiting = get(client, "/perception/demandes?statut=en_attente_garanties")
    assert waiting.rows_after("demandes-table")[1][0] == ref

    clock.set(datetime(2023, 12, 21, 0, 0))  # day 31
    # Before any cron, the list and the detail already say Expirée...
    listing = get(client, "/perception/demandes?statut=expiree")
    assert [row[0] for row in listing.rows_after("demandes-table")[1:]] == [ref]
    assert "Statut Expirée" in get(client, f"/perception/demandes/{ref}").text
    # ...and guarantees are refused.
    refused = post(client, f"/perception/demandes/{ref}/garanties", GARANTIE)
    assert refused.status == 409
    assert refused.refusal() == (
        "Le délai de dépôt des garanties a expiré le 20/12/2023 : la demande est expirée et "
        "ne peut plus être validée."
    )

    # The demo request of Marrakech was confirmed at the same minute: it expires too.
    result = runner.invoke(args=["expire-requests"])
    assert (result.exit_code, result.output) == (0, "2 demande(s) expirée(s).\n")
    result = runner.invoke(args=["expire-requests"])
    assert (result.exit_code, result.output) == (0, "0 demande(s) expirée(s).\n")
    db.session.refresh(demande)
    assert demande.status == "expiree" and definitive(demande) == []
    statuses = db.session.execute(select(Demande.reference, Demande.status)).all()
    assert sorted(statuses) == sorted([(ref, "expiree"), (DEMO_REFERENCE, "expiree")])
    expiry = get(client, f"/perception/demandes/{ref}").rows_after("historique")[-1]
    assert expiry == [
        "21/12/2023 00:00",
        "Système",
        "Expiration",
        "En attente de garanties → Expirée",
        "Aucune garantie déposée dans le délai de 30 jours",
    ]


def test_full_payment_debited_on_the_10th_after_confirmation(client, auth, runner, clock):
    demande = confirm_on_the_portal(client, auth, INTEGRAL, "integral")
    ref, rib = demande.reference, demande.rib
    assert demande.status == "acceptee"

    auth.login(AGENT_CASA)
    detail = get(client, f"/perception/demandes/{ref}")
    assert detail.rows_after("echeancier")[1][:4] == [
        "Échéance 1",
        "10/12/2023",
        mad("80 096,80"),
        "À prélever",
    ]
    assert definitive(demande) == []  # a page view writes nothing

    assert debit_file(runner, "2023-12-10") == (
        DEBIT_HEADER + f"{ref},{INTEGRAL},{rib},80096.80,1\n"
    )
    assert definitive(demande) == [(1, date(2023, 12, 10), Decimal("80096.80"), "a_prelever")]
    # A second run writes the same file (the debit is not duplicated).
    assert debit_file(runner, "2023-12-10") == (
        DEBIT_HEADER + f"{ref},{INTEGRAL},{rib},80096.80,1\n"
    )

    clock.set(datetime(2023, 12, 11, 8, 0))
    response = client.post(f"/perception/demandes/{ref}/echeances/1", data={"statut": "payee"})
    assert get(client, response.location).flashes() == [
        "Prélèvement de l'échéance n° 1 enregistré : payé.",
        "Toutes les échéances sont payées : la demande est soldée.",
    ]
    db.session.refresh(demande)
    assert demande.status == "soldee"


def test_full_payment_rejected_reinstates_the_remise(client, auth, clock):
    demande = confirm_on_the_portal(client, auth, INTEGRAL, "integral")
    auth.login(AGENT_CASA)
    clock.set(datetime(2023, 12, 12, 8, 0))
    response = upload(client, f"reference,echeance,statut\n{demande.reference},1,rejetee\n")
    assert response.status_code == 303
    assert get(client, response.location).flashes() == [
        "Fichier retour enregistré : 0 prélèvement(s) payé(s), 1 rejeté(s).",
        f"Demande(s) annulée(s) pour défaut de paiement, montants réintégrés : "
        f"{demande.reference}.",
    ]
    reintegration = db.session.scalars(select(Reintegration)).one()
    assert (reintegration.montant_remise, reintegration.montant_majorations) == (
        Decimal("34567.28"),
        Decimal("0.00"),
    )
    assert reintegration.reste_du == Decimal("114664.08")  # the whole créance again


def import_retour(runner, *args: str) -> str:
    """The command's summary, its elapsed time written « T »."""
    result = runner.invoke(args=["import-retour", *args])
    assert result.exit_code == 0, result.output
    return re.sub(r" en [0-9]+,[0-9] s\.$", " en T s.", result.output.strip())


def test_return_file_on_the_command_line(client, auth, runner, clock, tmp_path):
    demande = confirm_plan(client, auth)
    ref = demande.reference
    record_guarantees(client, auth, demande)
    clock.set(datetime(2024, 2, 12, 9, 0))
    good = tmp_path / "retour.csv"
    good.write_text(f"reference,echeance,statut\n{ref},0,payee\n{ref},1,payee\n{ref},2,payee\n")
    perception = ("--perception", "Perception Casablanca Anfa")

    assert import_retour(runner, str(good), *perception, "--dry-run") == (
        "Vérification terminée, rien n'a été enregistré : 3 ligne(s), 3 payée(s), "
        "0 rejetée(s) en T s."
    )
    db.session.refresh(demande)
    assert demande.status == "validee"
    assert [s for *_x, s in definitive(demande)] == ["a_prelever"] * 3

    bad = tmp_path / "mauvais.csv"
    bad.write_text(f"reference,echeance,statut\n{ref},0,payee\n{ref},0,payee\n")
    result = runner.invoke(args=["import-retour", str(bad), *perception])
    assert result.exit_code == 1, result.exception
    assert result.stderr.splitlines() == [
        f"Erreur : Ligne 3, champ echeance : l'échéance n° 0 de la demande {ref} figure déjà "
        "à la ligne 2.",
        "Rien n'a été enregistré.",
    ]
    for args in (
        [str(good), "--perception", "Perception de nulle part"],
        [str(tmp_path / "absent.csv"), *perception],
        [str(good)],
    ):
        assert runner.invoke(args=["import-retour", *args]).exit_code == 2

    assert import_retour(runner, str(good), *perception) == (
        "Fichier retour enregistré : 3 ligne(s), 3 payée(s), 0 rejetée(s) ; "
        "1 demande(s) soldée(s), 0 annulée(s) en T s."
    )
    db.session.refresh(demande)
    assert demande.status == "soldee"
    assert [s for *_x, s in definitive(demande)] == ["payee"] * 3
    trail = [(e.actor_label, e.action, e.to_status, e.reason) for e in demande.events][-4:]
    assert trail == [
        (
            "Système",
            "prelevement",
            None,
            "Prélèvement de l'avance du 10/12/2023 (5 000,00 MAD) : payée "
            "(fichier retour de la banque)",
        ),
        (
            "Système",
            "prelevement",
            None,
            "Prélèvement de l'échéance 1 du 10/01/2024 (8 475,32 MAD) : payée "
            "(fichier retour de la banque)",
        ),
        (
            "Système",
            "prelevement",
            None,
            "Prélèvement de l'échéance 2 du 10/02/2024 (8 475,31 MAD) : payée "
            "(fichier retour de la banque)",
        ),
        ("Système", "solde", "soldee", "Toutes les échéances ont été payées"),
    ]
