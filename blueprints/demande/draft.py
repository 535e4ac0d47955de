"""The session's draft of a request: what the affiliate answered at Paramétrage (modalité,
account, guarantees), the count and avance last kept, the conditions accepted.

It lives in the signed session cookie under one key, as a plain dict of the fields below;
the views read it into a ``Draft``, change that copy and write it back with ``save``. A
form refused with errors changes the copy it shows back, never the saved draft.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, fields

from flask import abort, redirect, session, url_for
from flask_babel import gettext as _

from blueprints.simulation_form import DEFAULT_ECHEANCES
from common.clock import now
from domain import lifecycle

SESSION_KEY = "brouillon"


@dataclass
class Draft:
    numero: str
    modalite: str = ""
    compte: str = ""  # the chosen bank account's id, as the form sends it
    garanties: bool = False
    # Set by every accepted Paramétrage: a Validation shown before it can no longer confirm.
    token: str = ""
    cgu: bool = False
    cgu_at: str = ""
    # Validation offers to change the affilié only when the account had a choice.
    choix_affilie: bool = False
    n: int = DEFAULT_ECHEANCES
    avance: str = ""

    # ------------------------------------------------------------ reading and writing

    @classmethod
    def of(cls, numero: str) -> Draft:
        """A copy of the session's draft for ``numero``; an empty one if it holds another's."""
        saved = session.get(SESSION_KEY)
        if not isinstance(saved, dict) or saved.get("numero") != numero:
            return cls(numero)
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in saved.items() if name in known})

    @classmethod
    def saved(cls, numero: str) -> Draft | None:
        """The draft of a request past Paramétrage, or None."""
        draft = cls.of(numero)
        return draft if draft.token else None

    @classmethod
    def ready(cls, numero: str) -> Draft:
        """The draft of a request past Paramétrage, or the answer that sends the user there."""
        draft = cls.saved(numero)
        if draft is None:
            abort(redirect(url_for("demande.parametrage", numero=numero)))
        return draft

    def save(self) -> None:
        session[SESSION_KEY] = asdict(self)

    @staticmethod
    def forget() -> None:
        session.pop(SESSION_KEY, None)

    def get(self, name: str, default=None):
        """A field by name, as the templates read the draft (``draft.get('modalite')``)."""
        return getattr(self, name, default)

    # ------------------------------------------------------------ the steps' answers

    def answer_parametrage(self, form, affilie, *, several_affilies: bool) -> dict[str, str]:
        """Paramétrage's answers: kept in the session when right; else the errors, each
        for its field, and the answers shown back as given."""
        before = self.modalite if self.token else None
        self.modalite = form.get("modalite", "")
        self.compte = form.get("compte", "")
        self.garanties = form.get("garanties") == "1"
        errors: dict[str, str] = {}
        if self.modalite not in lifecycle.MODALITES:
            errors["modalite"] = _("Veuillez choisir la modalité de paiement.")
        if self.compte_of(affilie) is None:
            errors["compte"] = _("Veuillez choisir le compte bancaire à utiliser.")
        if self.acomptes and not self.garanties:
            errors["garanties"] = _(
                "Pour continuer, vous devez accepter de déposer les garanties suffisantes "
                "auprès de votre perception dans un délai de 30 jours."
            )
        if errors:
            return errors
        self.token = secrets.token_urlsafe(24)
        if self.modalite != before:
            # The conditions are those of the modalité: another one, read them again.
            # The same one (Modifier from Validation, then Suivant): still accepted.
            self.cgu = False
        self.choix_affilie = several_affilies
        self.save()
        return errors

    def keep(self, typed: dict) -> None:
        """The count and avance of the simulation the user validated."""
        self.n, self.avance = typed["n"], typed["avance"]

    def answer_conditions(self, accepted: bool) -> dict[str, str]:
        """The conditions' box: ticked is a consent, dated; unticked after Accepter is a
        refusal, not a consent (the error beside the box)."""
        self.cgu = accepted
        if accepted:
            self.cgu_at = now().isoformat()
            return {}
        return {"cgu": _("Veuillez lire et accepter les conditions générales d'utilisation.")}

    def confirms(self, token: str) -> bool:
        """Whether Confirmer may create the request: conditions accepted, and sent from
        the Validation of this very Paramétrage."""
        return self.cgu and bool(token) and token == self.token

    # ------------------------------------------------------------ what it says

    @property
    def acomptes(self) -> bool:
        return self.modalite == lifecycle.ACOMPTES

    def compte_of(self, affilie):
        """The bank account chosen, among the affilié's (None if it is gone)."""
        return next((c for c in affilie.comptes if str(c.id) == self.compte), None)

    def previous_count(self, maximum: int) -> int:
        """The count of the last simulation kept, within the campaign's bounds."""
        return min(max(int(self.n), 1), maximum)
