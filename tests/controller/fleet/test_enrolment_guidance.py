"""Enrolment that leads somewhere (controller/fleet/enrolment.py, token_created.html): tokens a
person can copy by hand without a doubt, the next steps with the controller's public URL, and a
QR code of the enrol command."""

from __future__ import annotations

import re
from datetime import timedelta

import segno

from agent.protocol import DeviceKind
from controller.access import Role
from controller.fleet import enrolment
from controller.fleet.enrolment import TOKEN_ALPHABET, canonical_token, new_enrolment_token
from tests.controller.testkit import csrf_token, sign_in
from tests.factories import enrol_request, make_site, make_user

LOOK_ALIKES = set("0o1liIuvO")


def test_tokens_have_no_characters_that_look_alike_and_come_in_groups():
    tokens = {new_enrolment_token() for _ in range(200)}

    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"bet_([a-z2-9]{4}-){5}[a-z2-9]{4}", token), token
        assert not LOOK_ALIKES & set(token.removeprefix("bet_").replace("-", ""))
    assert not LOOK_ALIKES & set(TOKEN_ALPHABET)


def test_a_token_typed_by_hand_in_capitals_without_dashes_still_enrols(db):
    issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
    typed = " " + issued.token.upper().replace("BET_", "bet_").replace("-", " ") + " "

    assert canonical_token(typed) == issued.token
    enrolled = enrolment.enrol(db, enrol_request(typed), heartbeat_interval_s=60)
    assert enrolled.device_id


def test_the_token_page_gives_the_next_steps_and_a_qr_code_of_the_command(make_app, db):
    app = make_app(public_url="https://borne.grenoble.example")
    client = app.test_client()
    site = make_site(db, name="MDH Teisseire")
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        "/tokens",
        data={
            "site": site.id,
            "kind": DeviceKind.PC.value,
            "validity_hours": "24",
            "note": "",
            "csrf_token": csrf_token(client, "/tokens"),
        },
    )

    page = answer.get_data(as_text=True)
    token = re.search(r"bet_[a-z2-9-]+", page).group(0)
    command = f"borne agent enrol --controller https://borne.grenoble.example --token {token}"
    assert command in page
    assert "systemctl enable --now borne-agent" in page
    assert "online. It talks to https://borne.grenoble.example." in page
    qr = re.search(r'<img src="(data:image/svg\+xml[^"]+)"[^>]*alt="QR code of the enrol', page)
    assert qr is not None
    assert qr.group(1) == segno.make(command, error="m", micro=False).svg_data_uri(
        scale=4, border=4, dark="#000", light="#fff"
    )
