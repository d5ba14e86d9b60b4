"""A member of staff's kiosk PIN: the digits that open a charging kiosk's lockers for them, at
the kiosk, at every kiosk of the places they cover (controller/lockers/settings.py sends it).

Threat model: the PIN opens lockers that hold residents' phones.

* Whoever reads the controller's database or a backup, a command's arguments, or a kiosk's disk
  must not read a PIN: it is kept and sent only as ``pbkdf2_sha256$iterations$salt_hex$hash_hex``
  with a random salt, the format the kiosk checks (agent/kiosk/codes.py), and pages, the API and
  the audit log show neither the PIN nor its hash. To be plain about it: 4 to 8 digits are 10**8
  PINs at most, and no hash keeps a patient offline search from finding a 4-digit one; the hash
  keeps PINs out of sight and makes each guess cost :data:`ITERATIONS` rounds of SHA-256. What
  stops guessing is the kiosk itself, which pauses its keypad after wrong PINs
  (agent/kiosk/bank.py), and the account: disabled, its PIN leaves every kiosk.
* Whoever stands at the kiosk tries the obvious first: a PIN of one digit repeated or of digits
  in a row (0000, 1234, 9876) is refused.
* Whoever finds a signed-in page left open must not give themselves a PIN: setting one asks for
  the account's password, as changing the password does. Removing one does not: it only takes a
  power away.

:data:`ITERATIONS`: about 0.1 s here, a few tenths on a kiosk's small CPU at each staff opening
(the kiosk accepts 10,000 to 5,000,000).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from itertools import pairwise

from sqlalchemy.orm import Session

from controller import access, audit
from controller.access import Action, Role, role_word
from controller.accounts.models import User
from controller.accounts.service import _password_matches
from controller.commands.models import Command
from controller.errors import DomainError
from controller.i18n import _
from controller.lockers import settings as kiosks
from controller.offload import offload
from controller.places import service as places

PIN = re.compile(r"[0-9]{4,8}")  # ASCII digits only: a kiosk's keypad types no other
SCHEME = "pbkdf2_sha256"
ITERATIONS = 200_000
SALT_BYTES = 16


def hash_pin(pin: str) -> str:
    """``pbkdf2_sha256$iterations$salt_hex$hash_hex`` of ``pin`` with a fresh salt, computed
    off the gevent hub (:func:`controller.offload.offload`)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = offload(hashlib.pbkdf2_hmac, "sha256", pin.encode("ascii"), salt, ITERATIONS)
    return f"{SCHEME}${ITERATIONS}${salt.hex()}${digest.hex()}"


def is_guessable(pin: str) -> bool:
    """Whether ``pin`` is one digit repeated (0000) or digits in a row, up or down, the keypad's
    0 following 9 (1234, 9876, 7890): the first a stranger at the kiosk tries."""
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    return steps in ({0}, {1}, {9})


def check_pin(pin: str) -> None:
    """Refuse a PIN that is not 4 to 8 digits, or that is easy to guess; the message says why."""
    if PIN.fullmatch(pin) is None:
        raise DomainError(_("a kiosk PIN is 4 to 8 digits, nothing else"), code="bad_pin")
    if is_guessable(pin):
        raise DomainError(
            _(
                "this PIN is too easy to guess: not one digit repeated (0000) nor digits in a "
                "row (1234, 9876)"
            ),
            code="weak_pin",
        )


def may_hold_pin(user: User) -> bool:
    """Whether ``user``'s role opens lockers at a kiosk (a manager acts on nothing)."""
    return Role(user.role) in kiosks.STAFF_AT_KIOSKS


def set_pin(session: Session, user: User, pin: str, *, password: str) -> list[Command]:
    """Give ``user`` a new kiosk PIN (their own: nobody else knows it), saying their password;
    send it to the kiosks of the places they cover. Audited, without the PIN or its hash.

    Returns the commands issued, for the caller to push once committed. Refused, with nothing
    changed: a manager, a wrong password, a PIN that is not 4 to 8 digits or is easy to guess."""
    if not may_hold_pin(user):
        raise DomainError(
            _(
                "a %(role)s opens no locker at the kiosks: there is no PIN to set",
                role=role_word(user.role),
            ),
            code="no_pin_for_role",
            status=403,
        )
    if not offload(_password_matches, user.password_hash, password):
        raise DomainError(
            _("your password is not that one: nothing was changed"),
            code="wrong_password",
        )
    check_pin(pin)
    replaced = user.kiosk_pin_hash is not None
    user.kiosk_pin_hash = hash_pin(pin)
    audit.record(
        session,
        user,
        "user.kiosk_pin",
        "user",
        user.id,
        f"{user.username} {'changed' if replaced else 'set'} their kiosk PIN",
    )
    return kiosks.send_staff_pins(session, places.visible_site_ids(session, user), pushed=True)


def remove_pin(session: Session, actor: User, user: User) -> list[Command]:
    """Take ``user``'s kiosk PIN away, from here and from every kiosk of their places: their
    own, or anyone's for those who manage users (a PIN someone saw). Audited.

    Returns the commands issued, for the caller to push once committed (none when there was no
    PIN)."""
    own = actor.id == user.id
    if not own:
        access.require(actor, Action.MANAGE_USERS)
    if user.kiosk_pin_hash is None:
        return []
    user.kiosk_pin_hash = None
    audit.record(
        session,
        actor,
        "user.kiosk_pin_removed",
        "user",
        user.id,
        f"{user.username} removed their kiosk PIN"
        if own
        else f"kiosk PIN of {user.username} removed",
    )
    return kiosks.send_staff_pins(session, places.visible_site_ids(session, user), pushed=True)
