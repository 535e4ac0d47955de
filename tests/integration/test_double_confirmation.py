"""A double click on Confirmer shows the request it created, whichever click wins.

The second submission of the same screen looks its token up first; if the first
submission commits just after that look-up, the eligibility check then finds a request
in progress. That request is the screen's own: the answer is its récapitulatif, not the
refusal "Une demande de remise est déjà en cours".
"""

from sqlalchemy import func, select

from db.models import Demande
from extensions import db
from services import demandes
from tests.integration.confirmation import NUMERO, up_to_confirmation

ALREADY = "Une demande de remise est déjà en cours pour cet affilié"


def test_the_click_that_lost_the_race_shows_the_request_too(client, auth, monkeypatch):
    auth.login()
    token = up_to_confirmation(client)
    # Both clicks leave the browser with the same cookie: the confirmation screen's.
    screen = client.get_cookie("session").value
    first = client.post(f"/demande/{NUMERO}/confirmer", data={"token": token})
    assert first.status_code == 303

    client.set_cookie("session", screen)
    real = demandes.confirmed_with
    looks = []

    def before_the_other_commit(token, numero):
        looks.append(token)
        return None if len(looks) == 1 else real(token, numero)

    monkeypatch.setattr(demandes, "confirmed_with", before_the_other_commit)
    second = client.post(f"/demande/{NUMERO}/confirmer", data={"token": token})

    assert len(looks) == 2  # the refusal path ran, and found the screen's own request
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert ALREADY not in page
    created = select(func.count()).select_from(Demande).where(Demande.confirmation_token == token)
    assert db.session.scalar(created) == 1
