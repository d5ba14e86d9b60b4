"""A site's fields of the national open-data schema (standard-mediation-num v1.0.2): what makes a
value valid, how typed values are tidied, and what a site still misses to be published.

Every entry point — the admin form, the import, the API — goes through :func:`check_fields`, so
that a value the export would have to drop is refused where it is typed, with its reason.
Vocabulary values are matched without case, accents or apostrophe style ("seniors", a curly
apostrophe typed on a phone) and stored as the schema spells them.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask_babel import LazyString

from controller.errors import DomainError
from controller.i18n import _, _l
from controller.places import vocabularies as vocab

if TYPE_CHECKING:
    from controller.places.models import Site


@dataclass
class OpenDataFields:
    """The open-data fields a person types (names: the Site's columns)."""

    pivot: str = ""
    typology: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    publics: list[str] = field(default_factory=list)
    access_modes: list[str] = field(default_factory=list)
    support_modes: list[str] = field(default_factory=list)
    fees: list[str] = field(default_factory=list)
    accessibility_url: str = ""
    website: str = ""
    phone: str = ""
    email: str = ""
    summary: str = ""
    insee_code: str = ""

    @classmethod
    def of(cls, site: Site) -> OpenDataFields:
        return cls(**{f.name: _copy(getattr(site, f.name)) for f in fields(cls)})


def _copy(value: str | list[str] | None) -> Any:  # a list copied, so edits stay apart
    if isinstance(value, list):
        return list(value)
    return value or ""


FIELD_NAMES = tuple(f.name for f in fields(OpenDataFields))

# Each field's name in the national schema: the import's and the export's column.
SCHEMA_COLUMNS = {
    "pivot": "pivot",
    "typology": "typologie",
    "services": "services",
    "publics": "publics_specifiquement_adresses",
    "access_modes": "modalites_acces",
    "support_modes": "modalites_accompagnement",
    "fees": "frais_a_charge",
    "accessibility_url": "fiche_acces_libre",
    "website": "site_web",
    "phone": "telephone",
    "email": "courriels",
    "summary": "presentation_resume",
    "insee_code": "code_insee",
}

# The allowed values of each list field, as the schema spells them.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "typology": tuple(vocab.TYPOLOGIES),
    "services": tuple(vocab.Service),
    "publics": tuple(vocab.Public),
    "access_modes": tuple(vocab.AccessMode),
    "support_modes": tuple(vocab.SupportMode),
    "fees": tuple(vocab.Fee),
}


class RequiredField(enum.StrEnum):
    """The schema's required fields a site may lack (``id`` is the site's slug, always there)."""

    PIVOT = "pivot"
    NAME = "nom"
    TOWN = "commune"
    POSTCODE = "code_postal"
    ADDRESS = "adresse"
    UPDATED_ON = "date_maj"


REQUIRED_WORDS = {
    RequiredField.PIVOT: _l("SIRET/RNA"),
    RequiredField.NAME: _l("name"),
    RequiredField.TOWN: _l("town"),
    RequiredField.POSTCODE: _l("postcode"),
    RequiredField.ADDRESS: _l("address"),
    RequiredField.UPDATED_ON: _l("update date"),
}


def required_words(missing: Iterable[RequiredField]) -> str:
    """ "SIRET/RNA, postcode": what a site misses, for a sentence."""
    return ", ".join(str(REQUIRED_WORDS[m]) for m in missing)


def missing_for_export(site: Site) -> list[RequiredField]:
    """The required fields ``site`` lacks, or has in a shape the schema refuses (a postcode that
    is not five digits): while any is missing the site stays out of the export."""
    missing = []
    if not vocab.PIVOT.match(site.pivot or ""):
        missing.append(RequiredField.PIVOT)
    if not (site.name or "").strip():
        missing.append(RequiredField.NAME)
    if not (site.city or "").strip():
        missing.append(RequiredField.TOWN)
    if not vocab.POSTCODE.match(site.postcode or ""):
        missing.append(RequiredField.POSTCODE)
    if not (site.address or "").strip():
        missing.append(RequiredField.ADDRESS)
    if site.data_updated_on is None:
        missing.append(RequiredField.UPDATED_ON)
    return missing


class InvalidFields(DomainError):
    """Some fields are refused: ``problems`` holds each one's reason, by field name."""

    def __init__(self, problems: Mapping[str, str]):
        self.problems = dict(problems)
        super().__init__(
            "; ".join(f"{SCHEMA_COLUMNS.get(name, name)}: {why}" for name, why in problems.items())
        )


def check_fields(typed: OpenDataFields) -> OpenDataFields:
    """``typed`` tidied (spaces, vocabulary spelling, phone in international form), or
    :class:`InvalidFields` naming every field that is wrong, not only the first."""
    problems: dict[str, str] = {}
    tidy = OpenDataFields()
    checks = {
        "pivot": check_pivot,
        "accessibility_url": check_accessibility_url,
        "website": check_websites,
        "phone": check_phone,
        "email": check_emails,
        "summary": check_summary,
        "insee_code": check_insee_code,
    }
    for name in FIELD_NAMES:
        value = getattr(typed, name)
        try:
            if name in VOCABULARIES:
                setattr(tidy, name, check_values(value, VOCABULARIES[name]))
            else:
                setattr(tidy, name, checks[name](value or ""))
        except DomainError as exc:
            problems[name] = exc.message
    if problems:
        raise InvalidFields(problems)
    return tidy


def fold(text: str) -> str:
    """``text`` compared loosely: no case, no accents, straight apostrophes, single spaces."""
    text = text.replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def check_values(values: Iterable[str], allowed: tuple[str, ...]) -> list[str]:
    """``values`` as the vocabulary ``allowed`` spells them, each once, in its order."""
    spelled = {fold(a): a for a in allowed}
    found = set()
    for value in values:
        if not value.strip():
            continue
        known = spelled.get(fold(value))
        if known is None:
            raise DomainError(
                _("%(value)s is not a value of the national schema", value=repr(value))
            )
        found.add(known)
    return [a for a in allowed if a in found]


def split_values(text: str) -> list[str]:
    """The values of one CSV cell, ``|`` between them."""
    return [v.strip() for v in text.split(vocab.LIST_SEPARATOR) if v.strip()]


def check_pivot(text: str) -> str:
    """A SIRET (14 digits, its check digit right) or an RNA number (W and 9 digits), or any
    identifier the schema's pattern allows (9 to 14 letters or digits: a RIDET, a SIREN)."""
    value = "".join(text.split())
    if not value:
        return ""
    if not vocab.PIVOT.match(value):
        raise DomainError(
            _(
                "give a SIRET (14 digits) or an RNA number (W and 9 digits), not %(value)s",
                value=repr(text),
            )
        )
    if vocab.SIRET.match(value) and not siret_checks_out(value):
        raise DomainError(
            _(
                "%(value)s is not a SIRET: its check digit is wrong, check the 14 digits",
                value=value,
            )
        )
    return value.upper() if value[0] in "wW" else value


def siret_checks_out(siret: str) -> bool:
    """The SIRET's Luhn check; La Poste's establishments (SIREN 356000000) share one SIREN and
    are numbered so that the sum of their digits is a multiple of 5 instead."""
    if siret.startswith("356000000"):
        return sum(int(d) for d in siret) % 5 == 0
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(siret)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def check_phone(text: str) -> str:
    """A phone number in the schema's international form: ``04 76 00 00 00`` becomes
    ``+33476000000``; overseas numbers are given with their own prefix (+590, +262…)."""
    value = re.sub(r"[\s.\-()]", "", text)
    if not value:
        return ""
    if value.startswith("0033"):
        value = "+33" + value[4:]
    elif re.fullmatch(r"0\d{9}", value):
        value = "+33" + value[1:]
    if not vocab.PHONE.match(value):
        raise DomainError(
            _(
                "%(value)s is not a phone number the schema accepts: 10 digits (04 76 …) or "
                "the international form (+33 4 76 …)",
                value=repr(text),
            )
        )
    return value


def check_accessibility_url(text: str) -> str:
    """The place's page on acceslibre (or another accessibility page): one https address."""
    value = text.strip()
    if value and not _is_url(value, https_only=True):
        raise DomainError(_("give one address starting with https://"))
    return value


def check_websites(text: str) -> str:
    """One or more addresses (the site, its social networks), ``|`` between them."""
    values = split_values(text)
    for value in values:
        if not _is_url(value, https_only=False):
            raise DomainError(_("%(value)s is not a web address (https://…)", value=repr(value)))
    return vocab.LIST_SEPARATOR.join(values)


def check_emails(text: str) -> str:
    """One or more e-mail addresses, ``|`` between them."""
    values = split_values(text)
    for value in values:
        if not re.fullmatch(r"[^@\s|,;]+@[^@\s|,;]+\.[^@\s|,;]+", value):
            raise DomainError(_("%(value)s is not an e-mail address", value=repr(value)))
    return vocab.LIST_SEPARATOR.join(values)


def check_summary(text: str) -> str:
    value = " ".join(text.split())
    if len(value) > vocab.SUMMARY_MAX:
        raise DomainError(
            _(
                "at most %(max)d characters (%(length)d given)",
                max=vocab.SUMMARY_MAX,
                length=len(value),
            )
        )
    return value


def check_insee_code(text: str) -> str:
    value = text.strip().upper()
    if value and not vocab.INSEE_CODE.match(value):
        raise DomainError(
            _("%(value)s is not a commune's INSEE code (5 characters, 38185)", value=repr(text))
        )
    return value


def _is_url(value: str, *, https_only: bool) -> bool:
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("https", "http")
    return parts.scheme in schemes and "." in parts.netloc and not any(c.isspace() for c in value)


# Each field's label on the staff pages.
FIELD_WORDS: dict[str, LazyString] = {
    "pivot": _l("SIRET or RNA number"),
    "typology": _l("Kind of structure"),
    "services": _l("Services"),
    "publics": _l("Publics specifically addressed"),
    "access_modes": _l("How to get help"),
    "support_modes": _l("Kinds of support"),
    "fees": _l("Fees"),
    "accessibility_url": _l("Accessibility page (acceslibre)"),
    "website": _l("Website"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "summary": _l("Short presentation"),
    "insee_code": _l("INSEE code of the commune"),
}
