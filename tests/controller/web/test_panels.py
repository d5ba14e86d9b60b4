"""Object pages built from panels (controller/web/panels.py): a new capability adds its panel to
the device page without touching another domain's code, and panels keep their order."""

from __future__ import annotations

import pytest
from jinja2 import ChoiceLoader, DictLoader

from agent.protocol import DeviceKind
from controller.access import Role
from controller.web.panels import Panel, add_panel
from tests.controller.testkit import sign_in, words
from tests.factories import make_device, make_site, make_user

COUNTER = "counter/_panel.html"


@pytest.fixture
def counter_app(app):
    """The app, with a panel of a domain that does not exist: a kiosk's visitor counter."""
    app.jinja_loader = ChoiceLoader(
        [
            DictLoader(
                {COUNTER: '<section id="counter"><h2>Visitors</h2>{{ today }} today</section>'}
            ),
            app.jinja_loader,
        ]
    )

    def counter(device, refused):
        return {"today": 3} if device.kind == DeviceKind.KIOSK else None

    add_panel(app, "device", Panel("counter", COUNTER, counter, 55))
    return app


def test_a_new_domains_panel_shows_on_the_pages_it_applies_to(counter_app, db):
    site = make_site(db)
    kiosk = make_device(db, site, kind=DeviceKind.KIOSK)
    pc = make_device(db, site, kind=DeviceKind.PC)
    client = counter_app.test_client()
    sign_in(client, make_user(db, Role.ADMIN))

    kiosk_page = client.get(f"/devices/{kiosk.id}")
    pc_page = client.get(f"/devices/{pc.id}")

    assert kiosk_page.status_code == 200 and "Visitors 3 today" in words(kiosk_page)
    assert pc_page.status_code == 200 and "Visitors" not in words(pc_page)


def test_panels_keep_their_order_on_the_page(counter_app, db):
    kiosk = make_device(db, kind=DeviceKind.KIOSK)
    client = counter_app.test_client()
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/devices/{kiosk.id}").get_data(as_text=True)

    # commands (30) before the counter (55), before the metrics and inventory (70)
    assert page.index('id="commands"') < page.index('id="counter"') < page.index("Inventory</h2>")


def test_two_panels_of_one_page_cannot_share_a_name(app):
    with pytest.raises(ValueError, match="already has a panel named 'status'"):
        add_panel(app, "device", Panel("status", COUNTER, lambda d, r: None, 1))
