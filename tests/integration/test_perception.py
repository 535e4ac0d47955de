"""The perception back office through the test client: scope, list, detail, guarantees,
debit results, the bank's return file and the simulation preview."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from db.models import Demande, Echeance, Garantie, Reintegration
from extensions import db
from services import backoffice
from tests.integration.back_office import (
    AGENT_CASA,
    AGENT_MARRAKECH,
    AGENT_RABAT,
    DEMO_REFERENCE,
    GARANTIE,
    GUIDE,
    HTMX,
    INTEGRAL,
    RABAT,
    definitive,
    get,
    mad,
    make_demande,
    post,
    references,
    upload,
)
from tests.integration.pages import BackOfficePage as Page

# --- who may see what ------------------------------------------------------------------


def perception_urls(reference: str, numero: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/perception/"),
        ("GET", "/perception/demandes"),
        ("GET", f"/perception/demandes/{reference}"),
        ("POST", f"/perception/demandes/{reference}/garanties"),
        ("POST", f"/perception/demandes/{reference}/echeances/0"),
        ("GET", "/perception/prelevements/retour"),
        ("POST", "/perception/prelevements/retour"),
        ("GET", "/perception/affilies"),
        ("GET", f"/perception/affilies/{numero}"),
    ]


def test_affiliate_users_get_403_everywhere_in_the_back_office(client, auth):
    auth.login("groupe")
    for method, url in perception_urls(DEMO_REFERENCE, "6120934"):
        response = client.open(url, method=method)
        assert response.status_code == 403, (method, url)


def test_visitors_are_sent_to_the_login(client):
    response = client.get("/perception/demandes")
    assert response.status_code == 302
    assert response.location.startswith("/connexion?next=")


def test_agents_land_on_their_requests_and_cannot_use_the_affiliate_journey(client, auth):
    auth.login(AGENT_MARRAKECH)
    assert client.get("/").location == "/perception/demandes"
    assert client.get("/demande/nouvelle").status_code == 403
    assert client.post(f"/demande/{GUIDE}/parametrage").status_code == 403


def test_another_perceptions_request_and_affilie_do_not_exist(app, client, auth):
    casa = make_demande(GUIDE)
    auth.login(AGENT_RABAT)
    for method, url in perception_urls(casa.reference, GUIDE)[2:5] + [
        ("GET", f"/perception/affilies/{GUIDE}")
    ]:
        response = client.open(url, method=method, data=GARANTIE)
        assert response.status_code == 404, (method, url)
    assert casa.reference not in get(client, "/perception/demandes").html
    assert casa.reference not in get(client, f"/perception/demandes?q={GUIDE}").html
    # Nothing happened to it.
    db.session.refresh(casa)
    assert casa.status == "en_attente_garanties" and not casa.garanties

    auth.logout()
    auth.login(AGENT_CASA)
    assert client.get(f"/perception/demandes/{casa.reference}").status_code == 200
    assert client.get(f"/perception/demandes/{DEMO_REFERENCE}").status_code == 404


def test_no_route_of_the_back_office_edits_a_requests_figures(app):
    """The only POSTs: guarantees, a debit result, the bank's return file, a notice sent
    again. None takes an amount, a rate or a count; the lifecycle tests check the snapshot
    is unchanged."""
    posts = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("perception.") and "POST" in rule.methods
    }
    assert posts == {
        "/perception/demandes/<reference>/garanties",
        "/perception/demandes/<reference>/echeances/<int:rang>",
        "/perception/prelevements/retour",
        "/perception/demandes/<reference>/avis/<int:notice_id>",
    }


# --- the requests list -----------------------------------------------------------------


def test_list_shows_the_perceptions_requests_with_days_left(client, auth, clock):
    clock.set(datetime(2023, 11, 25, 9, 0))
    auth.login(AGENT_MARRAKECH)
    page = get(client, "/perception/demandes")
    assert page.status == 200 and page.h1 == "Demandes de remise de la perception"
    rows = page.rows_after("demandes-table")
    assert rows[0][:7] == [
        "Référence",
        "Affilié",
        "Date de la demande",
        "Modalité de paiement",
        "Montant à payer",
        "Statut",
        "Délai de dépôt des garanties",
    ]
    demo = rows[1]
    assert demo[0] == DEMO_REFERENCE
    assert demo[1] == "6120934 — OASIS TRANSPORT"
    assert demo[2] == "20/11/2023"
    assert demo[5] == "En attente de garanties"
    assert demo[6] == "25 jours restants (jusqu'au 20/12/2023)"
    assert len(rows) == 2


def test_days_left_on_the_last_day_then_expired_before_any_cron(client, auth, clock):
    auth.login(AGENT_MARRAKECH)
    clock.set(datetime(2023, 12, 20, 23, 59))
    assert get(client, "/perception/demandes").rows_after("demandes-table")[1][5:] == [
        "En attente de garanties",
        "Dernier jour (jusqu'au 20/12/2023)",
    ]
    clock.set(datetime(2023, 12, 21, 0, 0))
    assert get(client, "/perception/demandes").rows_after("demandes-table")[1][5:] == [
        "Expirée",
        "Dépassé le 20/12/2023",
    ]
    # The database still says en_attente_garanties: the status is computed on read.
    assert db.session.scalars(select(Demande.status)).all() == ["en_attente_garanties"]


@pytest.fixture
def casa_requests(app, clock):
    """Five requests of Perception Casablanca Anfa, one of each kind."""
    made = {}
    clock.set(datetime(2023, 11, 10, 9, 0))
    made["expiree_db"] = make_demande(GUIDE, status="expiree")
    clock.set(datetime(2023, 11, 12, 9, 0))
    made["soldee"] = make_demande(INTEGRAL, modalite="integral", status="soldee")
    clock.set(datetime(2023, 11, 14, 9, 0))
    made["overdue"] = make_demande(GUIDE)  # waiting, but its deadline passes on 14/12
    clock.set(datetime(2023, 12, 5, 9, 0))
    made["acceptee"] = make_demande(INTEGRAL, modalite="integral")
    clock.set(datetime(2023, 12, 20, 9, 0))
    return {k: d.reference for k, d in made.items()}


@pytest.mark.parametrize(
    ("statut", "expected"),
    [
        ("", ["acceptee", "overdue", "soldee", "expiree_db"]),
        ("expiree", ["overdue", "expiree_db"]),
        ("en_attente_garanties", []),
        ("acceptee", ["acceptee"]),
        ("soldee", ["soldee"]),
        ("validee", []),
        ("pas-un-statut", ["acceptee", "overdue", "soldee", "expiree_db"]),
    ],
)
def test_filter_by_status_as_of_today(client, auth, casa_requests, statut, expected):
    auth.login(AGENT_CASA)
    page = get(client, f"/perception/demandes?statut={statut}")
    assert references(page) == [casa_requests[k] for k in expected]


def test_filter_by_affiliation_number_or_name_and_dates(client, auth, casa_requests):
    auth.login(AGENT_CASA)
    assert references(get(client, f"/perception/demandes?q={INTEGRAL}")) == [
        casa_requests["acceptee"],
        casa_requests["soldee"],
    ]
    assert references(get(client, "/perception/demandes?q=atlas+b%C3%A2timent")) == [
        casa_requests["overdue"],
        casa_requests["expiree_db"],
    ]
    assert references(get(client, "/perception/demandes?q=%25")) == []
    page = get(client, "/perception/demandes?du=2023-11-12&au=2023-11-14")
    assert references(page) == [casa_requests["overdue"], casa_requests["soldee"]]
    assert page.value("du") == "2023-11-12" and page.value("au") == "2023-11-14"
    assert references(get(client, "/perception/demandes?du=14/11/2023")) == [
        casa_requests["acceptee"],
        casa_requests["overdue"],
    ]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "du=2023-02-30",
            "du",
            "La date de début doit être une date réelle, par exemple 20/11/2023.",
        ),
        ("au=demain", "au", "La date de fin doit être une date réelle, par exemple 20/11/2023."),
        (
            "du=2023-12-01&au=2023-11-01",
            "au",
            "La date de fin doit être postérieure ou égale à la date de début.",
        ),
    ],
)
def test_bad_dates_are_named_next_to_their_field(
    client, auth, casa_requests, query, field, message
):
    auth.login(AGENT_CASA)
    page = get(client, f"/perception/demandes?{query}")
    assert page.status == 422
    assert page.title.startswith("Erreur :")
    assert page.field_error(field) == message
    assert page.error_summary() == [message]
    # The other filters still apply; the bad date is ignored.
    assert len(references(page)) >= 1


def test_filters_and_pages_re_render_only_the_table_with_htmx(client, auth, app, clock):
    # 23 finished requests for one affilié: one in progress at a time, history unlimited.
    for day in range(1, 24):
        clock.set(datetime(2023, 11, day, 9, 0))
        make_demande(INTEGRAL, modalite="integral", status="soldee")
    auth.login(AGENT_CASA)

    page = get(client, "/perception/demandes?statut=soldee")
    assert len(references(page)) == 20
    assert "Affichage de l'élément 1 à 20 sur 23 éléments" in page.text
    link = re.search(r'href="(/perception/demandes\?[^"]*page=2)"', page.html)[1]
    assert "statut=soldee" in link and 'data-hx-target="#demandes-table"' in page.html
    assert 'data-hx-push-url="true"' in page.html

    second = get(client, link.replace("&amp;", "&"))
    assert second.is_full_page and len(references(second)) == 3

    fragment = get(client, link.replace("&amp;", "&"), headers=HTMX)
    assert not fragment.is_full_page
    assert fragment.html.lstrip().startswith('<div id="demandes-table">')
    assert len(references(fragment)) == 3
    assert 'id="du-erreur-zone" data-hx-swap-oob="innerHTML"' in fragment.html
    assert "HX-Request" in fragment.response.headers["Vary"]

    bad = get(client, "/perception/demandes?du=x", headers=HTMX)
    assert bad.status == 200  # htmx swaps 2xx only: the error comes in its zone
    assert bad.field_error("du") == (
        "La date de début doit être une date réelle, par exemple 20/11/2023."
    )

    # Back button: htmx asks for the whole page again.
    restore = get(
        client,
        "/perception/demandes?page=2",
        headers={**HTMX, "HX-History-Restore-Request": "true"},
    )
    assert restore.is_full_page


# --- the detail page -------------------------------------------------------------------


def test_detail_shows_snapshot_schedule_guarantee_form_and_audit(client, auth):
    auth.login(AGENT_MARRAKECH)
    page = get(client, f"/perception/demandes/{DEMO_REFERENCE}")
    assert page.status == 200
    assert page.h1 == f"Demande {DEMO_REFERENCE}"
    text = page.text
    assert "Statut En attente de garanties" in text
    assert "Date limite de dépôt des garanties 20/12/2023 (30 jours restants)" in text
    assert "Raison sociale OASIS TRANSPORT" in text
    assert "Créance globale" in text
    assert "Échéancier définitif" in text
    assert page.has_id("garantie_type")
    history = page.rows_after("historique")
    assert history[1] == [
        "20/11/2023 10:30",
        "Groupe Atlas Holding",
        "Confirmation de la demande",
        "En attente de garanties",
        history[1][4],
    ]


def test_unknown_request_is_404(client, auth):
    auth.login(AGENT_CASA)
    assert client.get("/perception/demandes/RM-2023-INCONNU1").status_code == 404


# --- guarantees ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"garantie_type": "", "garantie_reference": "", "deposee_le": ""},
            {
                "garantie_type": "Veuillez choisir le type de garantie.",
                "garantie_reference": "Veuillez saisir la référence de la garantie.",
                "deposee_le": "Veuillez saisir la date de dépôt des garanties.",
            },
        ),
        ({"garantie_type": "bijoux"}, {"garantie_type": "Veuillez choisir le type de garantie."}),
        (
            {"garantie_reference": "R" * 81},
            {
                "garantie_reference": (
                    "La référence de la garantie ne peut pas dépasser 80 caractères."
                )
            },
        ),
        (
            {"deposee_le": "31/02/2023"},
            {"deposee_le": "La date de dépôt doit être une date réelle, par exemple 20/11/2023."},
        ),
        (
            {"deposee_le": "2023-11-21"},
            {"deposee_le": "La date de dépôt ne peut pas être dans le futur."},
        ),
        (
            {"deposee_le": "2023-11-19"},
            {
                "deposee_le": (
                    "La date de dépôt ne peut pas précéder la date de la demande (20/11/2023)."
                )
            },
        ),
        (
            {"commentaire": "x" * 1001},
            {"commentaire": "Le commentaire ne peut pas dépasser 1000 caractères."},
        ),
    ],
)
def test_guarantee_fields_are_checked_and_answers_kept(client, auth, changes, errors):
    auth.login(AGENT_MARRAKECH)
    form = {**GARANTIE, **changes}
    page = post(client, f"/perception/demandes/{DEMO_REFERENCE}/garanties", form)
    assert page.status == 422
    assert page.title.startswith("Erreur :")
    assert {name: page.field_error(name) for name in errors} == errors
    assert page.error_summary() == list(errors.values())
    for name in ("garantie_reference", "deposee_le"):
        if name not in errors:
            assert page.value(name) == form[name]
    if "garantie_type" not in errors:
        assert page.value("garantie_type") == form["garantie_type"]
    demande = db.session.scalars(select(Demande).where(Demande.reference == DEMO_REFERENCE)).one()
    assert demande.status == "en_attente_garanties"
    assert db.session.scalar(select(func.count()).select_from(Garantie)) == 0


def test_guarantees_accept_a_typed_french_date(client, auth):
    auth.login(AGENT_MARRAKECH)
    response = client.post(
        f"/perception/demandes/{DEMO_REFERENCE}/garanties",
        data={**GARANTIE, "deposee_le": "20/11/2023"},
    )
    assert response.status_code == 303
    garantie = db.session.scalars(select(Garantie)).one()
    assert (garantie.type, garantie.reference, garantie.deposee_le) == (
        "caution_bancaire",
        "CB-2023-0042",
        date(2023, 11, 20),
    )


def test_guarantees_refused_for_any_status_but_waiting(client, auth, clock):
    integral = make_demande(INTEGRAL, modalite="integral")
    auth.login(AGENT_CASA)
    page = post(client, f"/perception/demandes/{integral.reference}/garanties", GARANTIE)
    assert page.status == 409
    assert page.refusal() == (
        "Les garanties ne peuvent être enregistrées que pour une demande en attente de "
        "garanties (cette demande est « Acceptée »)."
    )
    assert not page.has_id("garantie_type")

    plan = make_demande(GUIDE)
    assert (
        client.post(f"/perception/demandes/{plan.reference}/garanties", data=GARANTIE).status_code
        == 303
    )
    again = post(client, f"/perception/demandes/{plan.reference}/garanties", GARANTIE)
    assert again.status == 409
    assert "(cette demande est « Validée »)" in again.refusal()
    db.session.refresh(plan)
    assert len(plan.garanties) == 1 and len(definitive(plan)) == 3


# --- debit results, one by one ---------------------------------------------------------


def validated(client, reference: str) -> None:
    response = client.post(f"/perception/demandes/{reference}/garanties", data=GARANTIE)
    assert response.status_code == 303, response.get_data(as_text=True)
    client.get(response.location)  # shows (and so clears) the confirmation message


def test_a_debit_result_waits_for_its_date_and_is_recorded_once(client, auth, clock):
    plan = make_demande(GUIDE)
    auth.login(AGENT_CASA)
    validated(client, plan.reference)
    url = f"/perception/demandes/{plan.reference}/echeances/0"

    early = post(client, url, {"statut": "payee"})
    assert early.status == 409
    assert early.refusal() == (
        f"L'échéance n° 0 de la demande {plan.reference} n'est prélevée que le 10/12/2023."
    )
    detail = get(client, f"/perception/demandes/{plan.reference}")
    assert "À saisir après le prélèvement du 10/12/2023" in detail.text

    clock.set(datetime(2023, 12, 10, 15, 0))
    assert post(client, url, {"statut": "peut-etre"}).refusal() == (
        "Le résultat doit être « payée » ou « rejetée »."
    )
    response = client.post(url, data={"statut": "payee"})
    assert response.status_code == 303
    assert response.location.endswith(f"/perception/demandes/{plan.reference}#echeancier")
    page = get(client, response.location)
    assert page.flashes() == ["Prélèvement de l'avance enregistré : payé."]
    assert page.rows_after("echeancier")[1][:4] == [
        "Avance",
        "10/12/2023",
        mad("5 000,00"),
        "Payée (10/12/2023)",
    ]

    twice = post(client, url, {"statut": "rejetee"})
    assert twice.status == 409
    assert twice.refusal() == (
        f"Le résultat de l'échéance n° 0 de la demande {plan.reference} est déjà enregistré "
        "(Payée)."
    )
    assert post(
        client, f"/perception/demandes/{plan.reference}/echeances/9", {"statut": "payee"}
    ).refusal() == (
        f"La demande {plan.reference} n'a pas d'échéance n° 9 dans son échéancier définitif."
    )
    db.session.refresh(plan)
    assert plan.status == "validee"
    assert [e.action for e in plan.events] == ["confirmation", "validation", "prelevement"]


def test_a_debit_recorded_meanwhile_by_someone_else_is_not_recorded_twice(
    client, auth, clock, monkeypatch
):
    plan = make_demande(GUIDE)
    auth.login(AGENT_CASA)
    validated(client, plan.reference)
    clock.set(datetime(2023, 12, 11, 9, 0))
    detail = get(client, f"/perception/demandes/{plan.reference}")  # loads the échéances
    assert "Payée — Avance" in detail.text
    checked = backoffice.check_result

    def another_agent_commits_first(demande, echeance, rang, today):
        # This request has read the avance as still to debit; another agent's request
        # commits its result now, behind this one's back.
        checked(demande, echeance, rang, today)
        with db.engine.begin() as conn:
            conn.execute(
                update(Echeance)
                .where(
                    Echeance.demande_id == plan.id,
                    Echeance.definitive.is_(True),
                    Echeance.rang == 0,
                )
                .values(statut="rejetee")
            )

    monkeypatch.setattr(backoffice, "check_result", another_agent_commits_first)

    page = post(client, f"/perception/demandes/{plan.reference}/echeances/0", {"statut": "payee"})
    assert page.status == 409
    assert page.refusal() == (
        "Cette demande vient d'être modifiée par ailleurs : rechargez la page et recommencez."
    )
    db.session.expire_all()
    assert definitive(plan)[0][3] == "rejetee"
    assert [e.action for e in plan.events] == ["confirmation", "validation"]


# --- the bank's return file ------------------------------------------------------------


def upload_raw(client, content: str):
    import io

    return client.post(
        "/perception/prelevements/retour",
        data={"fichier": (io.BytesIO(content.encode()), "retour.csv")},
        content_type="multipart/form-data",
    )


def test_return_file_with_bad_lines_names_them_and_records_nothing(client, auth, clock):
    plan = make_demande(GUIDE)
    integral = make_demande(INTEGRAL, modalite="integral")
    auth.login(AGENT_CASA)
    validated(client, plan.reference)
    clock.set(datetime(2024, 1, 11, 9, 0))
    ref, other = plan.reference, integral.reference
    page = upload(
        client,
        "reference,echeance,statut\n"
        f"{ref},0,payee\n"
        f"{other},1,payee\n"
        "RM-2023-INCONNU1,1,payee\n"
        f"{DEMO_REFERENCE},1,payee\n"
        f"{ref},un,payee\n"
        f"{ref},1,payée ?\n"
        f"{ref},0,rejetee\n"
        f"{ref},2,payee\n"
        f"{ref},7,payee\n"
        f"{ref},1\n",
    )
    assert page.status == 422
    assert page.title.startswith("Erreur :")
    assert page.field_error("fichier") == (
        "Le fichier contient des erreurs : aucun résultat n'a été enregistré."
    )
    assert [item for item in page.by_id("erreurs-fichier").split("Ligne ")[1:]] == [
        "4, champ reference : demande « RM-2023-INCONNU1 » inconnue dans votre perception. ",
        f"5, champ reference : demande « {DEMO_REFERENCE} » inconnue dans votre perception. ",
        "6, champ echeance : « un » n'est pas un numéro d'échéance (0 pour l'avance, puis "
        "1, 2, 3…). ",
        "7, champ statut : « payée ? » n'est pas un résultat reconnu (payee ou rejetee). ",
        f"8, champ echeance : l'échéance n° 0 de la demande {ref} figure déjà à la ligne 2. ",
        f"9, champ echeance : L'échéance n° 2 de la demande {ref} n'est prélevée que le "
        "10/02/2024. ",
        f"10, champ echeance : La demande {ref} n'a pas d'échéance n° 7 dans son échéancier "
        "définitif. ",
        "11 : 3 colonnes attendues (reference,echeance,statut), 2 trouvée(s).",
    ]
    # Nothing was written, not even the full payment's debit row.
    assert [s for *_x, s in definitive(plan)] == ["a_prelever"] * 3
    assert definitive(integral) == []
    db.session.refresh(plan)
    assert plan.status == "validee" and [e.action for e in plan.events][-1] == "validation"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "Le fichier est vide."),
        ("reference;echeance;statut\n", "Ligne 1 : en-tête attendu « reference,echeance,statut »."),
        ("reference,echeance,statut\n", "Le fichier ne contient aucun résultat de prélèvement."),
        (
            b"reference,echeance,statut\n\xff\xfe,1,payee\n",
            "Le fichier doit être un fichier CSV encodé en UTF-8.",
        ),
    ],
)
def test_return_file_refused_as_a_whole(client, auth, content, message):
    auth.login(AGENT_CASA)
    page = upload(client, content)
    assert page.status == 422
    assert page.by_id("erreurs-fichier") == f"Lignes refusées {message}"


def test_return_file_is_required(client, auth):
    auth.login(AGENT_CASA)
    page = post(client, "/perception/prelevements/retour", {}, content_type="multipart/form-data")
    assert page.status == 422
    assert page.field_error("fichier") == "Veuillez choisir le fichier retour de la banque (CSV)."


def test_return_file_reports_the_first_hundred_bad_lines_and_counts_the_others(client, auth, clock):
    plan = make_demande(GUIDE)
    auth.login(AGENT_CASA)
    validated(client, plan.reference)
    clock.set(datetime(2024, 1, 11, 9, 0))
    from blueprints.perception import MAX_RETURN_LINES

    # The largest file the upload takes: a good first line, then only bad ones.
    # (Short references: the test client's own body stays under its 500 KB spool.)
    bad = MAX_RETURN_LINES - 1
    unknown = "".join(f"X{i:05d},1,payee\n" for i in range(bad))
    page = upload(client, f"reference,echeance,statut\n{plan.reference},0,payee\n{unknown}")
    assert page.status == 422
    shown = page.by_id("erreurs-fichier").split("Ligne ")[1:]
    assert len(shown) == 100
    assert shown[0] == ("3, champ reference : demande « X00000 » inconnue dans votre perception. ")
    assert shown[-1] == (
        "102, champ reference : demande « X00099 » inconnue dans votre perception. "
        f"… et {bad - 100} autre(s) ligne(s) refusée(s)."
    )
    assert [s for *_x, s in definitive(plan)] == ["a_prelever"] * 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{ref},0,"payee',
            "Ligne 2 : guillemet non fermé (un champ ne peut contenir ni saut de ligne ni "
            "guillemet seul).",
        ),
        (
            "{ref},0,payee" + " " * 9000,
            "Ligne 2 : ligne de plus de 8192 octets (ce n'est pas un fichier retour CSV).",
        ),
    ],
)
def test_return_file_line_that_is_not_csv_is_named(client, auth, clock, line, message):
    plan = make_demande(GUIDE)
    auth.login(AGENT_CASA)
    validated(client, plan.reference)
    clock.set(datetime(2024, 1, 11, 9, 0))
    page = upload(client, "reference,echeance,statut\n" + line.format(ref=plan.reference) + "\n")
    assert page.status == 422
    assert page.by_id("erreurs-fichier") == f"Lignes refusées {message}"
    assert [s for *_x, s in definitive(plan)] == ["a_prelever"] * 3


def test_return_file_from_a_spreadsheet_is_read(client, auth, clock):
    """A BOM, CRLF line ends, quoted cells, capitals and blank lines are a spreadsheet's."""
    plan = make_demande(GUIDE)
    auth.login(AGENT_CASA)
    validated(client, plan.reference)
    clock.set(datetime(2024, 1, 11, 9, 0))
    content = (
        "\ufeffReference,Echeance,Statut\r\n\r\n"
        f'"{plan.reference}","0","PAYEE"\r\n {plan.reference} , 1 ,Rejetee\r\n'
    )
    response = upload_raw(client, content)
    assert response.status_code == 303
    assert get(client, response.location).flashes() == [
        "Fichier retour enregistré : 1 prélèvement(s) payé(s), 1 rejeté(s).",
        f"Demande(s) annulée(s) pour défaut de paiement, montants réintégrés : {plan.reference}.",
    ]
    assert [s for *_x, s in definitive(plan)] == ["payee", "rejetee", "a_prelever"]
    db.session.refresh(plan)
    assert plan.status == "annulee"
    assert db.session.scalars(select(Reintegration.montant_paye)).all() == [Decimal("5000.00")]


def test_summary_names_twenty_requests_then_counts(app):
    from blueprints.perception import _listed

    references = tuple(f"RM-2024-{i:08d}" for i in range(20))
    with app.test_request_context():
        assert _listed(references[:2], 2) == "RM-2024-00000000, RM-2024-00000001"
        assert _listed(references, 1500) == ", ".join(references) + " et 1480 autre(s)"


# --- the simulation preview ------------------------------------------------------------


def recap(page: Page) -> dict[str, str]:
    return page.recap()


def test_preview_simulates_without_creating_anything(client, auth):
    auth.login(AGENT_CASA)
    before = db.session.scalar(select(func.count()).select_from(Demande))
    page = get(client, f"/perception/affilies/{GUIDE}")
    assert page.status == 200
    assert page.h1 == f"Affilié {GUIDE} — ATLAS BÂTIMENT ET TRAVAUX"
    assert page.value("nombre_echeances") == "6" and page.value("curseur") == "6"

    page = get(
        client,
        f"/perception/affilies/{GUIDE}?modalite=acomptes&precedent=6&avance=5+000,00"
        "&nombre_echeances=2&curseur=6&action=simuler",
    )
    figures = recap(page)
    assert figures["Montant de la remise"] == mad("5 756,86")
    assert figures["Montant à payer"] == mad("21 950,63")
    assert figures["Montant de la mensualité"] == mad("8 475,32")
    assert figures["Date indicative de la première échéance"] == "10/01/2024"
    assert page.value("precedent") == "2" and page.value("avance") == "5 000,00"

    with client.session_transaction() as session:
        assert "brouillon" not in session
    assert db.session.scalar(select(func.count()).select_from(Demande)) == before


@pytest.mark.parametrize(
    ("query", "n"),
    [
        ("nombre_echeances=6&curseur=6&precedent=6&action=plus", 7),
        ("nombre_echeances=6&curseur=6&precedent=6&action=moins", 5),
        ("nombre_echeances=1&curseur=1&precedent=1&action=moins", 1),
        ("nombre_echeances=60&curseur=60&precedent=60&action=plus", 60),
        # Without JavaScript both fields arrive: the slider moved, the number did not.
        ("nombre_echeances=6&curseur=30&precedent=6&action=simuler", 30),
        ("nombre_echeances=12&curseur=6&precedent=6&action=simuler", 12),
    ],
)
def test_preview_stepper_slider_and_number_field(client, auth, query, n):
    auth.login(AGENT_CASA)
    page = get(client, f"/perception/affilies/{GUIDE}?{query}")
    assert page.status == 200
    assert page.value("nombre_echeances") == str(n)
    assert recap(page)["Nombre des échéances"] == f"{n} mois"


def test_preview_panel_alone_with_htmx(client, auth):
    auth.login(AGENT_CASA)
    page = get(
        client,
        f"/perception/affilies/{GUIDE}?precedent=24&nombre_echeances=24&curseur=25&action=curseur",
        headers=HTMX,
    )
    assert not page.is_full_page
    assert page.html.lstrip().startswith('<section id="simulation-panel"')
    assert 'id="palier" data-hx-swap-oob="innerHTML"' in page.html
    assert 'id="precedent" name="precedent" value="25" data-hx-swap-oob="true"' in page.html
    assert "40,00\u00a0%" in page.by_id("palier")
    assert recap(page)["Taux de la remise sur les pénalités et frais de recouvrement"] == (
        "40,00\u00a0%"
    )


def test_preview_settings_are_in_the_address_and_a_reload_keeps_them(client, auth):
    auth.login(AGENT_CASA)
    moved = get(
        client,
        f"/perception/affilies/{GUIDE}?modalite=acomptes&precedent=6&nombre_echeances=6"
        "&curseur=6&avance=5+000%2C00&action=plus",
        headers=HTMX,
    )
    address = moved.response.headers["HX-Replace-Url"]
    assert address == (
        f"/perception/affilies/{GUIDE}?modalite=acomptes&precedent=7&avance=5+000,00"
    )
    reloaded = get(client, address)
    assert reloaded.value("nombre_echeances") == "7"
    assert reloaded.value("avance") == "5 000,00"
    assert recap(reloaded)["Nombre des échéances"] == "7 mois"
    # A refused setting is not written in the address: a reload shows the last good one.
    refused = get(
        client,
        f"/perception/affilies/{GUIDE}?modalite=acomptes&precedent=7&avance=abc",
        headers=HTMX,
    )
    assert "HX-Replace-Url" not in refused.response.headers


def test_preview_full_payment_and_errors(client, auth):
    auth.login(AGENT_CASA)
    page = get(client, f"/perception/affilies/{INTEGRAL}?modalite=integral")
    assert recap(page)["Montant à payer"] == mad("80 096,80")
    assert not page.has_id("nombre_echeances")

    bad = get(client, f"/perception/affilies/{GUIDE}?avance=abc&nombre_echeances=2&curseur=2")
    assert bad.status == 422
    assert bad.field_error("avance") == (
        "Le montant de l'avance doit être un nombre, par exemple 5 000,00."
    )
    big = get(client, f"/perception/affilies/{GUIDE}?avance=30000&nombre_echeances=2&curseur=2")
    assert big.field_error("avance") == (
        "Le montant de l'avance doit être inférieur au montant à payer (" + mad("21 950,63") + ")."
    )
    assert big.value("avance") == "30000"


def test_affilie_search_opens_an_exact_number_of_the_perception(client, auth):
    auth.login(AGENT_CASA)
    assert client.get(f"/perception/affilies?q={GUIDE}").location == f"/perception/affilies/{GUIDE}"
    listing = get(client, "/perception/affilies?q=atlas")
    assert [r[0] for r in listing.rows_after("affilies-table")[1:]] == [GUIDE]
    other = get(client, f"/perception/affilies?q={RABAT}")
    assert other.status == 200
    assert "Aucun affilié de la perception ne correspond à votre recherche." in other.text
    fragment = get(client, "/perception/affilies?q=atlas", headers=HTMX)
    assert fragment.html.lstrip().startswith('<div id="affilies-table">')
    # Typing the number shows it in the list; Rechercher opens it.
    typing = get(client, f"/perception/affilies?q={GUIDE}", headers=HTMX)
    assert [r[0] for r in typing.rows_after("affilies-table")[1:]] == [GUIDE]
    opening = client.get(f"/perception/affilies?q={GUIDE}&ouvrir=1", headers=HTMX)
    assert opening.status_code == 204
    assert opening.headers["HX-Redirect"] == f"/perception/affilies/{GUIDE}"


def test_reintegrations_model_total(app):
    r = Reintegration(
        montant_remise=Decimal("5756.86"),
        montant_majorations=Decimal("139.12"),
        montant_paye=Decimal("0.00"),
    )
    assert r.total == Decimal("5895.98")


def test_echeance_model_is_unchanged(app):
    assert {c.name for c in Echeance.__table__.columns} >= {"definitive", "statut", "resultat_at"}
