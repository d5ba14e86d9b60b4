"""A site's equipment and the reconditioning export (controller/maintenance/equipment.py and
equipment_web.py): figures counted as a partner reads them, public PCs flagged on configurable
thresholds with their reasons in words, technicians and admins only, within their places, and a
CSV a spreadsheet opens safely."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from agent.protocol import DeviceKind, Disk, Inventory
from borne.settings import ImproperlyConfigured
from controller.access import Role
from controller.config import load_controller_settings
from controller.db import utcnow
from controller.maintenance import equipment
from controller.maintenance.equipment import AgeSource, Reason, Shortfall, Thresholds
from tests.controller.testkit import sign_in, words
from tests.factories import make_device, make_organisation, make_site, make_user

GIB = 1 << 30
FRENCH = {"Accept-Language": "fr"}
DEFAULTS = Thresholds(min_memory_gib=4, min_disk_gib=50, max_age_years=8)


@pytest.fixture
def app(make_app):
    return make_app()


def inventory(ram_gib: float = 16, disk_gib: float = 238, **overrides: Any) -> dict[str, Any]:
    """What an agent reports, stored as ingest stores it; sizes as the system reports them."""
    report = Inventory(
        **{
            "hostname": "pc-accueil",
            "os_name": "Debian GNU/Linux",
            "os_version": "12 (bookworm)",
            "kernel": "6.1.0-18-amd64",
            "cpu_model": "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz",
            "cpu_count": 6,
            "ram_bytes": int(ram_gib * GIB),
            "vendor": "Dell Inc.",
            "model": "OptiPlex 3060",
            "serial": "7XK2Q53",
            "disks": [Disk("/dev/nvme0n1p2", "/", "ext4", int(disk_gib * GIB))],
            **overrides,
        }
    )
    return msgspec.to_builtins(report)


def disk(device: str, mountpoint: str, size: int) -> dict[str, Any]:
    return {"device": device, "mountpoint": mountpoint, "fstype": "ext4", "total_bytes": size}


def read_csv(answer) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(answer.get_data().decode("utf-8-sig"))))


def years_ago(years: int) -> date:
    """A day at least ``years`` whole years before today (the 1st of January)."""
    return date(date.today().year - years, 1, 1)


# --- Figures and flags, from plain values ---------------------------------------------------


def test_memory_counts_as_installed_and_disk_as_the_system_sees_it():
    assert equipment.memory_gib(int(3.72 * GIB)) == 4  # a 4 GB PC, less what the kernel keeps
    assert equipment.memory_gib(int(7.6 * GIB)) == 8
    assert equipment.memory_gib(0) is None and equipment.memory_gib(None) is None
    disks = [
        disk("/dev/sda2", "/", 57 * GIB),
        disk("/dev/sda1", "/boot/efi", GIB // 2),
        disk("/dev/sda2", "/home", 57 * GIB),  # the same filesystem, mounted twice
        disk("/dev/sdb1", "/media/invite/CLE", 64 * GIB),  # a resident's USB stick
    ]
    # One per device, the USB stick left out, rounded to the nearest GiB.
    assert equipment.disk_gib(disks) == 58
    assert equipment.disk_gib([]) is None and equipment.disk_gib(None) is None


def test_the_age_counts_from_the_older_of_firmware_and_first_seen():
    today = date(2026, 12, 2)
    assert equipment.whole_years(date(2017, 12, 3), today) == 8
    assert equipment.whole_years(date(2017, 12, 2), today) == 9
    firmware = equipment.firmware_day("2016-03-01", today)
    assert equipment.age_of(firmware, date(2024, 5, 1), today) == (10, AgeSource.FIRMWARE)
    # A firmware updated after the PC came here makes it look younger than it is.
    assert equipment.age_of(date(2025, 6, 1), date(2019, 5, 1), today) == (
        7,
        AgeSource.FIRST_SEEN,
    )
    for nonsense in ("", "2016-13-45", "2031-01-01", "1970-01-01", None, 20160301):
        assert equipment.firmware_day(nonsense, today) is None


def test_each_threshold_flags_with_its_reason_and_zero_turns_it_off():
    assert equipment.reasons_for(8, 238, 3, AgeSource.FIRMWARE, DEFAULTS) == ()
    assert equipment.reasons_for(2, 29, 9, AgeSource.FIRMWARE, DEFAULTS) == (
        Reason(Shortfall.MEMORY, 2, 4),
        Reason(Shortfall.DISK, 29, 50),
        Reason(Shortfall.AGE, 9, 8, AgeSource.FIRMWARE),
    )
    # At the limits: 4 GB is enough, 8 years old is not too old.
    assert equipment.reasons_for(4, 50, 8, AgeSource.FIRMWARE, DEFAULTS) == ()
    # Unknown figures (no inventory yet) are not held against a PC.
    assert equipment.reasons_for(None, None, 1, AgeSource.FIRST_SEEN, DEFAULTS) == ()
    off = Thresholds(min_memory_gib=0, min_disk_gib=0, max_age_years=0)
    assert equipment.reasons_for(1, 1, 40, AgeSource.FIRMWARE, off) == ()


def test_thresholds_are_settings_and_a_bad_value_stops_the_start():
    settings = load_controller_settings(
        env={"BORNE_RECONDITIONING_MIN_MEMORY_GIB": "8"},
        overrides={"reconditioning_max_age_years": 0},
    )
    assert Thresholds.of(settings) == Thresholds(8, 50, 0)
    with pytest.raises(ImproperlyConfigured, match="reconditioning_min_memory_gib must be between"):
        load_controller_settings(env={}, overrides={"reconditioning_min_memory_gib": 4 * GIB})
    with pytest.raises(ImproperlyConfigured, match=r"reconditioning_max_age_years .*got -1"):
        load_controller_settings(env={}, overrides={"reconditioning_max_age_years": -1})
    with pytest.raises(ImproperlyConfigured, match="RECONDITIONING_MIN_DISK_GIB must be a number"):
        load_controller_settings(env={"BORNE_RECONDITIONING_MIN_DISK_GIB": "64 GB"})


# --- The site's equipment page -------------------------------------------------------------------


def test_the_page_flags_weak_and_old_pcs_with_their_reasons(client, db):
    site = make_site(db, name="Médiathèque Kateb Yacine")
    make_device(db, site, name="pc-ok", inventory=inventory())
    make_device(db, site, name="pc-weak", inventory=inventory(ram_gib=1.8, disk_gib=29))
    make_device(
        db, site, name="pc-old", inventory=inventory(firmware_date=years_ago(11).isoformat())
    )
    make_device(db, site, name="borne-wifi", kind=DeviceKind.HOTSPOT, inventory=inventory(1, 7))
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get(f"/sites/{site.id}/equipment")
    text = words(answer)

    assert answer.status_code == 200
    assert "Equipment of Médiathèque Kateb Yacine" in text
    assert "2 to recondition 1 fit for public use 0 without inventory yet 1 kiosks" in text
    assert "A public PC is to recondition when it has less than 4 GB of memory" in text
    assert (
        "pc-weak Public PC To recondition 2 GB of memory, below 4 GB 29 GB of disk, below 50 GB"
        in text
    )
    assert "pc-old Public PC To recondition 11 years old, more than 8" in text
    assert "pc-ok Public PC Fit for public use Dell Inc. OptiPlex 3060" in text
    assert "Serial number 7XK2Q53" in text and "6 cores" in text and "16 GB 238 GB" in text
    # A hotspot is a small box: listed with its small figures, never flagged.
    assert "borne-wifi Wifi hotspot Not a public PC" in text and "1 GB 7 GB" in text
    # Flagged rows come first, marked for the phone's cards (a thick edge besides the words).
    page = answer.get_data(as_text=True)
    assert page.index("pc-old") < page.index("pc-ok") and page.index("pc-weak") < page.index(
        "pc-ok"
    )
    assert page.count('<tr class="flagged">') == 2
    assert f'href="/sites/{site.id}/equipment.csv"' in page


def test_a_pc_without_inventory_is_said_so_and_aged_from_when_it_was_first_seen(client, db):
    site = make_site(db)
    make_device(db, site, name="pc-new", inventory={})
    make_device(
        db, site, name="pc-veteran", inventory={}, enrolled_at=utcnow() - timedelta(days=3660)
    )
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get(f"/sites/{site.id}/equipment"))

    assert "pc-new Public PC No inventory yet — — — — —" in text
    assert "0 years first seen" in text
    # Ten years in service here: old enough, whatever its inventory will say.
    assert "pc-veteran Public PC To recondition first seen 10 years ago, more than 8" in text


def test_the_thresholds_come_from_the_settings(make_app, db):
    client = make_app(reconditioning_min_memory_gib=8).test_client()
    site = make_site(db)
    make_device(db, site, name="pc-4gb", inventory=inventory(ram_gib=3.7))
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get(f"/sites/{site.id}/equipment"))

    assert "pc-4gb Public PC To recondition 4 GB of memory, below 8 GB" in text
    assert "has less than 8 GB of memory" in text


def test_a_technician_reads_the_equipment_of_their_places_only(client, db):
    organisation = make_organisation(db)
    mine, elsewhere = make_site(db, organisation), make_site(db, name="Maison des habitants")
    make_device(db, mine, name="pc-mine", inventory=inventory())
    sign_in(client, make_user(db, Role.TECHNICIAN, organisations=[organisation]))

    assert "pc-mine" in words(client.get(f"/sites/{mine.id}/equipment"))
    refused = client.get(f"/sites/{elsewhere.id}/equipment")
    assert refused.status_code == 403
    assert "Maison des habitants is outside the places you cover" in words(refused)
    assert client.get(f"/sites/{elsewhere.id}/equipment.csv").status_code == 403
    assert client.get("/sites/999999/equipment").status_code == 404


def test_mediators_and_managers_may_not_read_the_equipment(client, db):
    site = make_site(db)
    make_device(db, site, inventory=inventory())
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    refused = client.get(f"/sites/{site.id}/equipment")

    assert refused.status_code == 403
    assert "A mediator may not read the equipment of the places" in words(refused)
    assert client.get("/equipment/reconditioning.csv").status_code == 403
    # The site page shows them no equipment panel.
    assert "Equipment" not in words(client.get(f"/sites/{site.id}"))


def test_the_site_page_says_how_many_pcs_to_recondition_and_leads_to_the_page(client, db):
    site = make_site(db)
    make_device(db, site, inventory=inventory(ram_gib=2))
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[site]))

    answer = client.get(f"/sites/{site.id}")

    assert "Equipment 1 public PC to recondition" in words(answer)
    assert f'href="/sites/{site.id}/equipment"' in answer.get_data(as_text=True)


def test_the_page_reads_in_french(client, db):
    site = make_site(db)
    make_device(db, site, name="pc-faible", inventory=inventory(ram_gib=2, disk_gib=29))
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get(f"/sites/{site.id}/equipment", headers=FRENCH))

    assert "Équipement de" in text and "À reconditionner" in text
    assert "2 Go de mémoire, sous le minimum de 4 Go" in text
    assert "a moins de 4 Go de mémoire, a moins de 50 Go de disque ou a plus de 8 ans" in text
    assert "Fit for public use" not in text and "To recondition" not in text


# --- CSV ----------------------------------------------------------------------------------------


def test_the_site_csv_lists_every_device_with_what_a_partner_needs(client, db):
    site = make_site(db, name="Médiathèque Kateb Yacine")
    make_device(db, site, name="pc-ok", inventory=inventory(firmware_date="2021-04-12"))
    make_device(db, site, name="pc-weak", inventory=inventory(ram_gib=2))
    make_device(db, site, name="pc-new", inventory={})
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get(f"/sites/{site.id}/equipment.csv")

    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith(
        f'attachment; filename="borne-equipment-{site.slug}-'
    )
    body = answer.get_data()
    assert body.startswith("\ufeff".encode())  # a spreadsheet opens it as UTF-8
    assert body.decode("utf-8-sig").splitlines()[0] == (
        "Site,Device,Kind,Vendor,Model,Serial number,Processor,Cores,Memory (GB),Disk (GB),"
        "Operating system,Firmware date,First seen,Age (years),Age from,Reconditioning,Reasons"
    )
    rows = {row["Device"]: row for row in read_csv(answer)}
    assert list(rows) == ["pc-weak", "pc-new", "pc-ok"]  # flagged first, then by name
    ok = rows["pc-ok"]
    assert ok["Site"] == "Médiathèque Kateb Yacine" and ok["Kind"] == "Public PC"
    assert (ok["Vendor"], ok["Model"], ok["Serial number"]) == (
        "Dell Inc.",
        "OptiPlex 3060",
        "7XK2Q53",
    )
    assert (ok["Cores"], ok["Memory (GB)"], ok["Disk (GB)"]) == ("6", "16", "238")
    assert ok["Operating system"] == "Debian GNU/Linux 12 (bookworm)"
    assert (ok["Firmware date"], ok["Age from"]) == ("2021-04-12", "firmware")
    assert ok["Reconditioning"] == "Fit for public use" and ok["Reasons"] == ""
    assert rows["pc-weak"]["Reconditioning"] == "To recondition"
    assert rows["pc-weak"]["Reasons"] == "2 GB of memory, below 4 GB"
    new = rows["pc-new"]
    assert (new["Memory (GB)"], new["Age from"], new["Reconditioning"]) == (
        "",
        "first seen",
        "No inventory yet",
    )
    assert new["First seen"] == utcnow().date().isoformat()  # UTC on both sides


def test_csv_cells_cannot_become_spreadsheet_formulas(client, db):
    site = make_site(db, name="@Espace public")
    make_device(
        db,
        site,
        name='=HYPERLINK("http://evil.example","clic")',
        inventory=inventory(ram_gib=2, serial="+33 cmd|' /C calc'!A0", model="-2+3"),
    )
    sign_in(client, make_user(db, Role.ADMIN))

    (row,) = read_csv(client.get(f"/sites/{site.id}/equipment.csv"))

    assert row["Site"] == "'@Espace public"
    assert row["Device"] == '\'=HYPERLINK("http://evil.example","clic")'
    assert row["Serial number"] == "'+33 cmd|' /C calc'!A0" and row["Model"] == "'-2+3"


def test_the_reconditioning_csv_lists_flagged_pcs_of_the_readers_places_only(client, db):
    organisation = make_organisation(db)
    bibliotheque = make_site(db, organisation, name="Bibliothèque Abbaye")
    mdh = make_site(db, organisation, name="MDH Teisseire")
    elsewhere = make_site(db, name="CCAS")
    make_device(db, bibliotheque, name="pc-weak-1", inventory=inventory(ram_gib=2))
    make_device(db, bibliotheque, name="pc-fine", inventory=inventory())
    make_device(db, mdh, name="pc-weak-2", inventory=inventory(disk_gib=29))
    make_device(db, mdh, name="kiosk-small", kind=DeviceKind.KIOSK, inventory=inventory(1, 7))
    make_device(db, mdh, name="pc-retired", inventory=inventory(ram_gib=2), retired_at=utcnow())
    make_device(db, elsewhere, name="pc-not-mine", inventory=inventory(ram_gib=2))
    sign_in(client, make_user(db, Role.TECHNICIAN, organisations=[organisation]))

    answer = client.get("/equipment/reconditioning.csv")

    assert answer.status_code == 200
    assert 'filename="borne-reconditioning-' in answer.headers["Content-Disposition"]
    assert [(r["Site"], r["Device"], r["Reasons"]) for r in read_csv(answer)] == [
        ("Bibliothèque Abbaye", "pc-weak-1", "2 GB of memory, below 4 GB"),
        ("MDH Teisseire", "pc-weak-2", "29 GB of disk, below 50 GB"),
    ]


def test_an_admin_exports_the_whole_city_in_french(client, db):
    make_device(db, make_site(db, name="Site A"), name="pc-a", inventory=inventory(ram_gib=2))
    make_device(db, make_site(db, name="Site B"), name="pc-b", inventory=inventory(ram_gib=2))
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get("/equipment/reconditioning.csv", headers=FRENCH)
    rows = read_csv(answer)

    assert {row["Lieu"] for row in rows} >= {"Site A", "Site B"}
    assert {row["Appareil"] for row in rows} >= {"pc-a", "pc-b"}
    mine = next(row for row in rows if row["Appareil"] == "pc-a")
    assert mine["Reconditionnement"] == "À reconditionner"
    assert mine["Raisons"] == "2 Go de mémoire, sous le minimum de 4 Go"
