"""The guide's request (4317542, instalments over 12 months, conditions accepted) taken up to
its confirmation page through the test client: what the tests of the confirmation's writes
start from.
"""

from __future__ import annotations

import re

NUMERO = "4317542"


def up_to_confirmation(client) -> str:
    """Instalments, 12 months, conditions accepted: returns the confirmation page's token."""
    page = client.get(f"/demande/{NUMERO}/parametrage").get_data(as_text=True)
    compte = re.search(r'<option value="(\d+)"', page)[1]
    client.post(
        f"/demande/{NUMERO}/parametrage",
        data={"modalite": "acomptes", "compte": compte, "garanties": "1"},
    )
    response = client.post(
        f"/demande/{NUMERO}/simulation",
        data={"action": "valider", "avance": "", "nombre_echeances": "12", "cgu": "1"},
    )
    assert response.status_code == 302
    page = client.get(f"/demande/{NUMERO}/validation").get_data(as_text=True)
    return re.search(r'name="token" value="([^"]+)"', page)[1]
