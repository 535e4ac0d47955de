"""Every French string of the code and the templates has its Arabic translation.

The strings are extracted as ``make translations-extract`` does (babel.cfg), into a
temporary template, and compared with the Arabic catalogue: a string added to a page or a
module without its translation fails here, not in front of an Arabic-speaking affilié.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "translations" / "ar" / "LC_MESSAGES" / "messages.po"


def extract(source: Path, target: Path) -> list:
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            # lazy_gettext, imported as _l where a text is defined before any request.
            "-k",
            "_l",
            "--ignore-dirs=.* _* tests bench",
            "-o",
            str(target),
            str(source),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=60,
    )
    with target.open("rb") as handle:
        return [message for message in read_po(handle) if message.id]


def untranslated(messages) -> list[str]:
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    missing = []
    for message in messages:
        found = catalogue.get(message.id, context=message.context)
        strings = [found.string] if found and isinstance(found.string, str) else []
        if found and not isinstance(found.string, str):
            strings = list(found.string)
        if found is None or found.fuzzy or not strings or not all(strings):
            where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            missing.append(f"{msgid!r} ({where})")
    return missing


def test_every_french_string_has_its_arabic_translation(tmp_path):
    messages = extract(ROOT, tmp_path / "messages.pot")
    assert len(messages) > 200  # the extraction saw the code and the templates
    missing = untranslated(messages)
    assert not missing, "untranslated (make translations-update, then translate):\n" + "\n".join(
        missing
    )


def test_a_string_without_translation_is_caught(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        "<p>{{ _('Une phrase que personne n’a traduite') }}</p>\n<p>{{ _('Déconnexion') }}</p>\n",
        encoding="utf-8",
    )
    (tmp_path / "module.py").write_text(
        "from flask_babel import gettext as _\nMESSAGE = _('Un message oublié')\n",
        encoding="utf-8",
    )
    missing = untranslated(extract(tmp_path, tmp_path / "messages.pot"))
    assert sorted(line.split(" (")[0] for line in missing) == [
        "'Un message oublié'",
        "'Une phrase que personne n’a traduite'",
    ]
