"""Identifiers: RIB, ICE and numéro d'affiliation."""

from __future__ import annotations

import re

from stdnum.iso7064 import mod_97_10
from stdnum.ma import ice

_RIB_RE = re.compile(r"[0-9]{24}", re.ASCII)
_AFFILIATION_RE = re.compile(r"[0-9]{7}", re.ASCII)
_ICE_RE = re.compile(r"[0-9]{15}", re.ASCII)
_DIGITS_RE = re.compile(r"[0-9]+", re.ASCII)
MASK = "\u2022"  # bullet


def normalize_rib(s: str) -> str:
    """Drop the spaces people type between the RIB's groups."""
    return "".join(s.split())


def is_valid_rib(s: str) -> bool:
    """24 ASCII digits whose number is a multiple of 97."""
    if not isinstance(s, str) or not _RIB_RE.fullmatch(s):
        return False
    return int(s) % 97 == 0


def mask_rib(s: str) -> str:
    """Hide all but the last 4 digits, in groups of 4: "•••• … •••• 1234"."""
    digits = normalize_rib(s)
    masked = MASK * max(0, len(digits) - 4) + digits[-4:]
    # Group from the right so the visible digits always form the last group.
    head = len(masked) % 4
    groups = ([masked[:head]] if head else []) + [
        masked[i : i + 4] for i in range(head, len(masked), 4)
    ]
    return " ".join(groups)


def _mod97_key(digits: str) -> str:
    """Two digits that, appended, make the whole number a multiple of 97."""
    return f"{(-int(digits) * 100) % 97:02d}"


def rib_with_key(first22: str) -> str:
    """Complete 22 digits (bank, city, account) with a valid RIB key."""
    if not isinstance(first22, str) or not re.fullmatch(r"[0-9]{22}", first22, re.ASCII):
        raise ValueError("a RIB without its key is 22 digits")
    return first22 + _mod97_key(first22)


def is_valid_ice(s: str) -> bool:
    """15-digit ICE with its mod 97 check digits."""
    if isinstance(s, str) and _ICE_RE.fullmatch(s):
        # What stdnum.ma.ice checks of 15 digits, without its cleaning (~30 µs a call):
        # an import checks hundreds of thousands.
        return int(s) % 97 == 0
    return isinstance(s, str) and ice.is_valid(s)


def ice_with_check(first13: str) -> str:
    """Complete 13 digits with the 2 ICE check digits (for demo data)."""
    if not isinstance(first13, str) or not re.fullmatch(r"[0-9]{13}", first13, re.ASCII):
        raise ValueError("an ICE without its check digits is 13 digits")
    # stdnum.ma.ice wants the whole number ≡ 0 (mod 97), whereas
    # mod_97_10.calc_check_digits targets ISO 7064's remainder of 1; so take
    # the remainder from stdnum and aim at 0.
    check = f"{(97 - mod_97_10.checksum(first13 + '00')) % 97:02d}"
    return first13 + check


def is_valid_affiliation(s: str) -> bool:
    """Numéro d'affiliation: exactly 7 ASCII digits."""
    return isinstance(s, str) and _AFFILIATION_RE.fullmatch(s) is not None


def mask_email(address: str) -> str:
    """ "amina.benali@example.ma" -> "a•••i@example.ma": enough for its owner to recognise
    it, not enough to read it back (logs, the back office, the affiliate's screens)."""
    local, at, domain = (address or "").rpartition("@")
    if not at:
        return MASK * 3
    shown = local[0] + MASK * 3 + (local[-1] if len(local) > 2 else "")
    return f"{shown}@{domain}"


class InvalidEmail(ValueError):
    """Not an e-mail address; the message (email-validator's, in English) says why."""


def normalize_email(text: str) -> str:
    """The address as it will be written to: checked by ``email-validator`` (the library
    Flask-WTF's Email validator uses), its domain normalised; no DNS look-up."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
