"""Sending the outbox (``flask notifications send``, every minute): each notice claimed
by one sender, sent, and marked sent, retried later, or failed.

A claim is a lease: ``claimed_until`` a few minutes ahead, taken by one UPDATE of the due
rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so senders on several hosts never take the
same row; SQLite's single writer does the same by itself). A sender killed between its
claim and its mark leaves the row to the next sender once the lease is over: a notice is
sent at least once, never lost, and its Message-ID (messages.message_id) is the same on
every try, so a duplicate after a crash is recognisable.

Answers: 4xx, a refused or cut connection, a time-out are temporary, tried again after
1, 2, 4… minutes (an hour at most), failed after MAIL_MAX_ATTEMPTS tries; a 5xx to the
sender, the recipient or the data fails the notice at once.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, select, update

from common.clock import now
from db.models import Notice
from domain.identifiers import mask_email
from extensions import db
from services.notices import messages, outbox
from web import observability

CLAIM_BATCH = 20
MAX_BACKOFF = timedelta(hours=1)


class TemporaryFailure(Exception):
    """Try again later."""


class PermanentFailure(Exception):
    """The server refused this message for good (5xx)."""


# ---------------------------------------------------------------- the backends


class SmtpBackend:
    """smtplib, one connection kept for a run: STARTTLS, implicit TLS or none, a login
    from the environment, MAIL_TIMEOUT (10 s at most) on every operation."""

    def __init__(self, config) -> None:
        self.host = config["MAIL_HOST"]
        self.port = config["MAIL_PORT"]
        self.security = config["MAIL_SECURITY"]
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        self.timeout = config["MAIL_TIMEOUT"]
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp

    def send(self, message: EmailMessage) -> None:
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, answer = next(iter(exc.recipients.values()))
            raise _by_code(code, answer) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self.close()
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Refused or cut connections, time-outs, a greeting or login refused: the
            # server or our settings, not this message.
            self.close()
            raise TemporaryFailure(_describe(exc)) from None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _by_code(code: int, answer) -> Exception:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    failure = PermanentFailure if 500 <= code < 600 else TemporaryFailure
    return failure(_masked(f"{code} {text}")[:200])


_ADDRESS = re.compile(r"[^\s<>@:;,]+@[^\s<>@:;,]+")


def _masked(text: str) -> str:
    """A server's answer often quotes the recipient: kept (logs, agents) masked."""
    return _ADDRESS.sub(lambda m: mask_email(m.group()), text)


def _describe(exc: Exception) -> str:
    code = getattr(exc, "smtp_code", None)
    if code is not None:
        return _by_code(code, getattr(exc, "smtp_error", b"")).args[0]
    return _masked(f"{type(exc).__name__}: {exc}")[:200]


class FileBackend:
    """Development: each message as an .eml file in a folder (instance/mail/)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = message["Message-ID"].strip("<>").partition("@")[0]
        (self.folder / f"{now():%Y%m%d-%H%M%S}-{name}.eml").write_bytes(message.as_bytes())

    def close(self) -> None:
        pass


def backend_from_config(config):
    """The configured backend, or None when notices are disabled."""
    if config["MAIL_BACKEND"] == "smtp":
        return SmtpBackend(config)
    if config["MAIL_BACKEND"] == "file":
        return FileBackend(Path(config["MAIL_FILE_DIR"]))
    return None


# ---------------------------------------------------------------- claims and marks


@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def claim(size: int = CLAIM_BATCH) -> tuple[str, list[int]]:
    """Take up to ``size`` due notices for this sender until its lease ends; committed."""
    at = now()
    token = uuid.uuid4().hex
    due = (
        select(Notice.id)
        .where(
            Notice.status == outbox.QUEUED,
            Notice.next_attempt_at <= at,
            or_(Notice.claimed_until.is_(None), Notice.claimed_until < at),
        )
        .order_by(Notice.next_attempt_at, Notice.id)
        .limit(size)
    )
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    ids = db.session.scalars(
        update(Notice)
        .where(Notice.id.in_(due.scalar_subquery()))
        .values(claim=token, claimed_until=at + lease, attempts=Notice.attempts + 1)
        .returning(Notice.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return token, sorted(ids)


def _mark(notice_id: int, token: str, **values) -> None:
    """Write a notice's outcome, unless its lease ended and another sender took it."""
    db.session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.claim == token)
        .values(claim=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver(notice_id: int, token: str, backend) -> str:
    """Send one claimed notice; returns its new status (queued again, sent or failed)."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.claim != token:
        return ""
    fields = {"notice": notice.id, "kind": notice.kind, "to": mask_email(notice.email)}
    try:
        message = messages.build(notice)
    except Exception as exc:  # a notice we cannot write is our error: failed, and logged
        current_app.logger.exception("notice %s could not be written", notice.id)
        return _failed(notice, token, f"{type(exc).__name__}", fields)
    try:
        backend.send(message)
    except TemporaryFailure as exc:
        if notice.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            return _failed(notice, token, str(exc), fields)
        delay = min(timedelta(minutes=2 ** (notice.attempts - 1)), MAX_BACKOFF)
        _mark(notice.id, token, next_attempt_at=now() + delay, last_error=str(exc)[:200])
        observability.event("notice.retry", error=str(exc)[:200], **fields)
        return outbox.QUEUED
    except PermanentFailure as exc:
        return _failed(notice, token, str(exc), fields)
    _mark(notice.id, token, status=outbox.SENT, sent_at=now(), last_error="")
    observability.event("notice.sent", **fields)
    return outbox.SENT


def _failed(notice: Notice, token: str, error: str, fields: dict) -> str:
    _mark(notice.id, token, status=outbox.FAILED, last_error=error[:200])
    observability.event("notice.failed", error=error[:200], **fields)
    return outbox.FAILED


def send_due(backend, limit: int | None = None) -> Report:
    """Claim and send the due notices, a batch at a time, until none is due (or
    ``limit`` were tried)."""
    report = Report()
    tried = 0
    try:
        while limit is None or tried < limit:
            size = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - tried)
            token, ids = claim(size)
            if not ids:
                break
            for notice_id in ids:
                status = deliver(notice_id, token, backend)
                tried += 1
                if status == outbox.SENT:
                    report.sent += 1
                elif status == outbox.FAILED:
                    report.failed += 1
                elif status == outbox.QUEUED:
                    report.retried += 1
    finally:
        backend.close()
    return report
