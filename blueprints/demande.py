"""The affiliate's journey: home, choice of affilié, paramétrage, simulation, confirmation."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from extensions import db
from models import Demande

bp = Blueprint("demande", __name__)


@bp.get("/")
@login_required
def home():
    """Nouvelle demande de remise, and the account's requests (Mes demandes)."""
    ids = [a.id for a in current_user.affilies]
    demandes = db.session.scalars(
        select(Demande).where(Demande.affilie_id.in_(ids)).order_by(Demande.confirmed_at.desc())
    ).all()
    return render_template("home.html", demandes=demandes)
