"""``borne controller places|closure|schedule …`` (controller/places/cli.py): places, closures and
the schedule from a shell."""

from __future__ import annotations

from controller.places.models import Site
from tests.controller.testkit import DEMO_PLACES, count


def places_with(tmp_path, line: int, old: str, new: str) -> str:
    """The demo places with one CSV line (1-based, header = 1) edited."""
    lines = DEMO_PLACES.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = lines[line - 1].replace(old, new)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines), encoding="utf-8")
    return str(bad)


def test_bad_csv_line_is_reported_and_nothing_is_imported(run, tmp_path):
    result = run("places", "import", places_with(tmp_path, 4, "45.1765", "north"))
    assert result.exit_code == 1
    assert "line 4, column latitude: 'north' is not a number" in result.output
    assert count(tmp_path, Site) == 0


def test_a_closure_shows_in_the_schedule_preview(run):
    run("places", "import", str(DEMO_PLACES))
    result = run(
        "closure",
        "add",
        "--site",
        "grenoble-bib-centre-ville",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-05",
        "--reason",
        "inventaire",
    )
    assert result.exit_code == 0 and "closed from 2026-12-01 to 2026-12-05" in result.output
    listed = run("closure", "list").output
    assert "grenoble-bib-centre-ville\t2026-12-01\t2026-12-05\tinventaire" in listed
    preview = run("schedule", "show", "--site", "grenoble-bib-centre-ville", "--days", "14")
    assert preview.exit_code == 0 and "Tu-Sa 10:00-18:00" in preview.output


def test_a_closure_ending_before_it_starts_is_refused(run):
    run("places", "import", str(DEMO_PLACES))
    result = run(
        "closure",
        "add",
        "--site",
        "grenoble-bib-centre-ville",
        "--from",
        "2026-12-05",
        "--to",
        "2026-12-01",
    )
    assert result.exit_code == 1 and "cannot end" in result.output


def test_places_with_bad_opening_hours_are_refused(run, tmp_path):
    bad = places_with(tmp_path, 3, "Tu-Sa 10:00-18:00", "mardi-samedi 10h-18h")
    result = run("places", "import", bad)
    assert result.exit_code == 1 and "line 3, column horaires" in result.output
    assert "OpenStreetMap" in result.output


def test_the_demo_places_import_with_a_warning_for_what_the_schema_has_no_word_for(run):
    result = run("places", "import", str(DEMO_PLACES))
    assert result.exit_code == 0 and "sites created: 15" in result.output
    assert "warning: services: 'Wifi' dropped on 13 lines" in result.output


def test_a_national_file_imports_with_the_organisation_given(run, tmp_path):
    national = tmp_path / "lieux.csv"
    national.write_text(
        "id,pivot,nom,commune,code_postal,adresse,services,date_maj\n"
        "epn-1,43493312300029,EPN du centre,Reims,51100,1 rue X,Aide aux démarches "
        "administratives,2024-04-02\n",
        encoding="utf-8",
    )
    refused = run("places", "import", str(national))
    assert refused.exit_code == 1 and "line 2, column organisation: empty" in refused.output
    result = run("places", "import", str(national), "--organisation", "Ville de Reims")
    assert result.exit_code == 0 and "sites created: 1" in result.output
