"""Security basics: login throttling, session cookie, secret key, headers, CSRF, health."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from commands.demo import DEMO_PASSWORD
from db.models import User
from extensions import db
from tests.conftest import make_app

WRONG_PASSWORD = "pas-le-bon"
INCORRECT = "Utilisateur ou mot de passe incorrect."


def too_many(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return f"Trop de tentatives de connexion. Réessayez dans {minutes} {unit}."


# --- small page objects --------------------------------------------------------------


def alert(response) -> str | None:
    """The text of the login form's error summary, or None when there is none."""
    found = re.search(r'role="alert"[^>]*>\s*<p>(.*?)</p>', response.get_data(as_text=True), re.S)
    return found.group(1).strip() if found else None


def typed_login(response) -> str:
    return re.search(r'id="utilisateur"[^>]*value="([^"]*)"', response.get_data(as_text=True))[1]


def form_token(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))[1]


def htmx_headers(response) -> dict:
    """The headers htmx adds to its requests, from the body's data-hx-headers attribute."""
    return json.loads(
        re.search(r"<body data-hx-headers='([^']+)'", response.get_data(as_text=True))[1]
    )


def post_login(client, login="groupe", password=DEMO_PASSWORD, **kwargs):
    return client.post(
        "/connexion", data={"utilisateur": login, "mot_de_passe": password}, **kwargs
    )


def is_logged_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200 and "Groupe Atlas Holding" in response.get_data(True)


# --- apps with the protections switched on --------------------------------------------


@pytest.fixture
def fresh(make):
    """The default app, without the app context the ``app`` fixture keeps pushed: with it,
    ``g`` (and Flask-Login's cached user) would outlive a request."""
    return make()


@pytest.fixture
def limited(make):
    # Memory storage even when REDIS_URL is set: counts must not leak between tests.
    return make(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")


# --- login throttling -----------------------------------------------------------------


def test_throttling_is_off_unless_a_test_enables_it(client):
    for _ in range(8):
        response = post_login(client, password=WRONG_PASSWORD)
        assert response.status_code == 401
        assert alert(response) == INCORRECT
    assert post_login(client).status_code == 302


def test_account_refused_after_five_failures_until_the_delay_has_passed(limited, clock):
    client = limited.test_client()
    for _ in range(4):
        response = post_login(client, password=WRONG_PASSWORD)
        assert response.status_code == 401
        assert alert(response) == INCORRECT

    response = post_login(client, password=WRONG_PASSWORD)
    assert response.status_code == 429
    assert alert(response) == too_many(1)
    assert typed_login(response) == "groupe"
    assert response.headers["Retry-After"] == "60"

    # Even the right password is refused while the account is locked.
    response = post_login(client)
    assert response.status_code == 429
    assert alert(response) == too_many(1)
    assert not is_logged_in(client)

    clock.set(clock() + timedelta(seconds=59))
    assert post_login(client).status_code == 429
    clock.set(clock() + timedelta(seconds=1))
    response = post_login(client)
    assert response.status_code == 302
    assert is_logged_in(client)


def test_lockout_doubles_with_each_further_failure_up_to_one_hour(limited, clock):
    client = limited.test_client()
    for _ in range(4):
        assert post_login(client, password=WRONG_PASSWORD).status_code == 401
    for minutes in (1, 2, 4, 8, 16, 32, 60, 60):
        response = post_login(client, password=WRONG_PASSWORD)
        assert response.status_code == 429
        assert alert(response) == too_many(minutes)
        assert response.headers["Retry-After"] == str(minutes * 60)
        # Refused attempts are not failures: they neither count nor extend the lockout.
        response = post_login(client, password=WRONG_PASSWORD)
        assert (response.status_code, alert(response)) == (429, too_many(minutes))
        clock.set(clock() + timedelta(seconds=minutes * 60))


def test_a_successful_login_resets_the_account_count(limited):
    for _ in range(4):
        assert post_login(limited.test_client(), password=WRONG_PASSWORD).status_code == 401
    assert post_login(limited.test_client()).status_code == 302
    client = limited.test_client()
    for _ in range(4):
        assert post_login(client, password=WRONG_PASSWORD).status_code == 401
    assert post_login(client, password=WRONG_PASSWORD).status_code == 429


def test_unknown_logins_lock_like_real_ones_and_only_themselves(limited):
    client = limited.test_client()
    for _ in range(4):
        response = post_login(client, login="inconnu", password=WRONG_PASSWORD)
        assert (response.status_code, alert(response)) == (401, INCORRECT)
    response = post_login(client, login="inconnu", password=WRONG_PASSWORD)
    assert (response.status_code, alert(response)) == (429, too_many(1))
    # Another account, from the same address, is not affected.
    assert post_login(client).status_code == 302


def test_too_many_attempts_from_one_address(make):
    app = make(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        LOGIN_ADDRESS_LIMIT="3 per 10 minutes",
    )
    client = app.test_client()
    for n in range(3):
        assert post_login(client, login=f"essai{n}", password=WRONG_PASSWORD).status_code == 401

    response = post_login(client)
    assert response.status_code == 429
    assert alert(response) == too_many(10)
    assert typed_login(response) == "groupe"
    assert int(response.headers["Retry-After"]) > 500
    assert not is_logged_in(client)
    assert client.get("/connexion").status_code == 200  # only attempts are counted

    other = app.test_client()
    response = post_login(other, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 302


def test_only_the_login_is_counted_no_hook_runs_on_other_requests(limited):
    from web.security import limiter

    hooks = [
        *limited.before_request_funcs[None],
        *limited.after_request_funcs[None],
        *limited.teardown_request_funcs[None],
    ]
    assert limiter.initialized
    assert not [h for h in hooks if getattr(h, "__self__", None) is limiter]
    assert not [h for h in hooks if limiter in getattr(h, "args", ())]
    client = limited.test_client()
    for _ in range(40):
        assert client.get("/ping").status_code == 200


def test_default_address_limit_is_thirty_per_ten_minutes(app):
    assert app.config["LOGIN_ADDRESS_LIMIT"] == "30 per 10 minutes"
    assert app.config["LOGIN_MAX_FAILURES"] == 5
    assert app.config["LOGIN_LOCKOUT_SECONDS"] == 60
    assert app.config["LOGIN_LOCKOUT_MAX_SECONDS"] == 3600


# --- session --------------------------------------------------------------------------


def session_set_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


@pytest.mark.parametrize(("env", "secure"), [("production", True), ("development", False)])
def test_session_cookie_flags(make, env, secure):
    client = make(APP_ENV=env, RATELIMIT_STORAGE_URI="memory://").test_client()
    cookie = session_set_cookie(post_login(client))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert "samesite=lax" in cookie.lower()
    assert ("secure" in attributes) is secure


def test_login_starts_a_new_session(fresh):
    client = fresh.test_client()
    client.get("/connexion")
    with client.session_transaction() as session:
        session["planted"] = "before login"
        session["lang"] = "fr"
    before = client.get_cookie("session").value

    assert post_login(client).status_code == 302
    after = client.get_cookie("session").value
    assert after != before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["lang"] == "fr"  # the one choice kept across the login

    # The cookie from before the login never gives access.
    client.set_cookie("session", before)
    assert not is_logged_in(client)


def test_cookie_of_a_closed_session_no_longer_gives_access(fresh):
    def token() -> str:
        with fresh.app_context():
            query = select(User.session_token).where(User.login == "groupe")
            return db.session.scalars(query).one()

    client, other_device = fresh.test_client(), fresh.test_client()
    post_login(other_device)
    post_login(client)
    assert is_logged_in(client)
    authenticated = client.get_cookie("session").value
    token_before = token()

    assert client.post("/deconnexion").status_code == 302
    assert token() != token_before
    assert not is_logged_in(client)
    client.set_cookie("session", authenticated)
    assert not is_logged_in(client)
    # Logging out ends every session of the account.
    assert not is_logged_in(other_device)


@pytest.mark.parametrize("env", ["production", "staging"])
@pytest.mark.parametrize("secret", [None, ""])
def test_secret_key_is_required_outside_development(database_url, env, secret, capsys):
    with pytest.raises(SystemExit):
        make_app(database_url, APP_ENV=env, SECRET_KEY=secret)
    assert "SECRET_KEY" in capsys.readouterr().err


def test_development_runs_without_a_secret_key(make):
    app = make(APP_ENV="development", SECRET_KEY=None)
    assert app.config["SECRET_KEY"]
    assert app.config["SESSION_COOKIE_SECURE"] is False


# --- security headers -----------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = (d.split() for d in policy.split(";") if d.strip())
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize(
    ("path", "logged_in"),
    [("/connexion", False), ("/", True), ("/healthz", False), ("/page-inexistante", False)],
)
def test_security_headers(client, path, logged_in):
    if logged_in:
        post_login(client)
    response = client.get(path)
    assert response.status_code in (200, 404)
    csp = csp_directives(response)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")


@pytest.mark.parametrize("logged_in", [False, True])
def test_pages_need_nothing_the_csp_forbids(client, logged_in):
    """No inline script, event handler or style attribute: the CSP would block them."""
    if logged_in:
        post_login(client)
    html = client.get("/" if logged_in else "/connexion").get_data(as_text=True)
    for script in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in script[0] and not script[1].strip()
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert not re.search(r"\sstyle\s*=", html)


# --- CSRF -----------------------------------------------------------------------------


@pytest.fixture
def csrf_client(make):
    return make(WTF_CSRF_ENABLED=True).test_client()


def test_login_without_csrf_token_is_refused_and_does_nothing(csrf_client):
    csrf_client.get("/connexion")
    response = post_login(csrf_client)
    assert response.status_code == 400
    with csrf_client.session_transaction() as session:
        assert "_user_id" not in session
    assert not is_logged_in(csrf_client)


def test_login_with_the_form_token(csrf_client):
    token = form_token(csrf_client.get("/connexion"))
    response = csrf_client.post(
        "/connexion",
        data={"utilisateur": "groupe", "mot_de_passe": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert is_logged_in(csrf_client)


def test_token_of_another_session_is_refused(csrf_client):
    token = form_token(csrf_client.get("/connexion"))
    stranger = csrf_client.application.test_client()
    stranger.get("/connexion")
    response = stranger.post(
        "/connexion",
        data={"utilisateur": "groupe", "mot_de_passe": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 400
    assert not is_logged_in(stranger)


def test_htmx_requests_carry_the_token_in_a_header(csrf_client):
    headers = htmx_headers(csrf_client.get("/connexion"))
    assert set(headers) == {"X-CSRFToken"}
    response = post_login(csrf_client, headers={**headers, "HX-Request": "true"})
    assert response.status_code == 302
    assert is_logged_in(csrf_client)

    # Logging out without the token is refused; with htmx's header it works.
    assert csrf_client.post("/deconnexion").status_code == 400
    assert is_logged_in(csrf_client)
    headers = htmx_headers(csrf_client.get("/"))
    response = csrf_client.post("/deconnexion", headers={**headers, "HX-Request": "true"})
    assert response.status_code == 302
    assert not is_logged_in(csrf_client)


# --- health ---------------------------------------------------------------------------


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "not configured"}


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
def test_healthz_when_the_database_is_unreachable(make, tmp_path, server):
    if server == "sqlite":
        url = f"sqlite:///{tmp_path / 'absent' / 'recouvrement.db'}"
    else:
        # Nothing listens on port 1: the connection is refused at once.
        url = "postgresql+psycopg://nobody@127.0.0.1:1/recouvrement?connect_timeout=2"
    response = make(SQLALCHEMY_DATABASE_URI=url).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"


def test_logins_go_on_when_the_limit_storage_is_down(database_url):
    """Redis unreachable: no 500, passwords still checked, the portal stays open."""
    from commands.demo import DEMO_PASSWORD
    from tests.conftest import make_app

    app = make_app(
        database_url,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0",  # nothing listens on port 9
    )
    client = app.test_client()
    wrong = client.post("/connexion", data={"utilisateur": "groupe", "mot_de_passe": "non"})
    assert wrong.status_code == 401
    assert "Utilisateur ou mot de passe incorrect." in wrong.text
    right = client.post("/connexion", data={"utilisateur": "groupe", "mot_de_passe": DEMO_PASSWORD})
    assert right.status_code == 302
    assert right.location == "/"
    with app.app_context():
        from extensions import db

        db.engine.dispose()


def test_behind_one_proxy_the_client_address_comes_from_x_forwarded_for(database_url):
    from flask import request

    from tests.conftest import make_app

    app = make_app(database_url, PROXY_HOPS=1)
    seen = {}

    @app.get("/_adresse")
    def adresse():
        seen["addr"], seen["scheme"] = request.remote_addr, request.scheme
        return "ok"

    app.test_client().get(
        "/_adresse",
        headers={"X-Forwarded-For": "196.200.1.7", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert seen == {"addr": "196.200.1.7", "scheme": "https"}
    with app.app_context():
        from extensions import db

        db.engine.dispose()
