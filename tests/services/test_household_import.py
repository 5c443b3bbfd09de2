"""Import of households from a CSV file: the dry run, the refusals, the import."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from citoyen.models import AuditEntry
from citoyen.models import Child
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.services import household_import
from citoyen.services import households
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.household_import import FileRefused
from tests import factories
from tests.conftest import fresh

HEADER = (
    "identifiant_famille;nom_foyer;adresse;complement_adresse;code_postal;commune;"
    "responsable_nom;responsable_prenom;responsable_email;responsable_telephone;"
    "enfant_nom;enfant_prenom;enfant_naissance;enfant_ecole;enfant_classe"
)
GOOD = "\n".join(
    [
        HEADER,
        "F100;Martin;3 rue des Lilas;Bât. B;45990;Testville;Martin;Camille;camille@example.org;"
        "06 12 34 56 78;Martin;Léo;08/03/2017;École Jules Ferry;CE1",
        "F100;Martin;3 rue des Lilas;Bât. B;45990;Testville;Martin;Camille;;;Martin;Zoé;14/09/2019;"
        "École Jules Ferry;MS",
        "F100;Martin;;;;;Dupont;Alex;alex@example.org;;;;;;",
        ";Benali;8 allée Verte;;45990;Testville;Benali;Karim;;0123456789;Benali;Inès;01/02/2016;;",
        ";Durand;;;;;Durand;Zoé;;;;;;;",
    ]
)


def csv_bytes(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return "\n".join([header, *lines]).encode(encoding)


@pytest.fixture
def town(db):
    return factories.organisation(db)


def count(db, model) -> int:
    return fresh(db).scalar(select(func.count()).select_from(model))


def reasons(report) -> dict[int, str]:
    return {line.number: line.reason for line in report.refused}


def test_dry_run_says_what_would_be_created_and_creates_nothing(db, agent, town):
    report = household_import.check(db, agent, town, GOOD.encode())
    assert [h.name for h in report.households] == ["Martin", "Benali", "Durand"]
    assert (len(report.households), report.guardian_count, report.child_count) == (3, 4, 3)
    assert report.summary() == "3 foyers, 4 responsables, 3 enfants"
    assert report.refused == [] and report.encoding == "UTF-8" and report.separator == ";"
    martin = report.households[0]
    assert martin.lines == [2, 3, 4] and martin.family_number == "F100"
    assert [g.full_name for g in martin.guardians] == ["Camille Martin", "Alex Dupont"]
    assert [c.birth_date for c in martin.children] == [date(2017, 3, 8), date(2019, 9, 14)]
    db.commit()
    assert count(db, Household) == 0 and count(db, Child) == 0 and count(db, AuditEntry) == 0


def test_import_creates_households_with_codes_numbers_and_validated_children(db, agent, town):
    existing = households.create_household(
        db, agent, town, name="Ancien", guardian_first_name="A", guardian_last_name="Ancien"
    )
    assert existing.family_number == "000001"
    report = household_import.run(db, agent, town, GOOD.encode(), filename="familles.csv")
    assert report.summary() == "3 foyers, 4 responsables, 3 enfants"
    fresh(db)
    created = {h.name: h for h in db.scalars(select(Household).where(Household.id != existing.id))}
    assert set(created) == {"Martin", "Benali", "Durand"}
    assert created["Martin"].family_number == "F100"
    assert {created["Benali"].family_number, created["Durand"].family_number} == {
        "000002",
        "000003",
    }
    codes = {h.subscription_code for h in created.values()} | {existing.subscription_code}
    assert len(codes) == 4
    assert all(households.normalise_code(c) == c and len(c) == 14 for c in codes)
    martin = created["Martin"]
    assert (martin.address_line1, martin.address_line2, martin.postcode, martin.city) == (
        "3 rue des Lilas",
        "Bât. B",
        "45990",
        "Testville",
    )
    assert [(g.full_name, g.email, g.mobile_phone) for g in martin.guardians] == [
        ("Camille Martin", "camille@example.org", "06 12 34 56 78"),
        ("Alex Dupont", "alex@example.org", ""),
    ]
    assert [
        (c.first_name, c.birth_date, c.school, c.class_name, c.status) for c in martin.children
    ] == [
        ("Léo", date(2017, 3, 8), "École Jules Ferry", "CE1", "validated"),
        ("Zoé", date(2019, 9, 14), "École Jules Ferry", "MS", "validated"),
    ]
    assert created["Durand"].children == []
    entries = list(db.scalars(select(AuditEntry).where(AuditEntry.action == "household.import")))
    assert len(entries) == 1
    assert (
        entries[0].details
        == "3 foyers, 4 responsables, 3 enfants importés depuis « familles.csv »."
    )
    assert entries[0].target_type == "organisation" and entries[0].target_id == town.id


def test_importing_the_same_file_twice_creates_nothing_the_second_time(db, agent, town):
    household_import.run(db, agent, town, GOOD.encode())
    before = (count(db, Household), count(db, Guardian), count(db, Child), count(db, AuditEntry))
    report = household_import.check(db, agent, town, GOOD.encode())
    assert report.households == []
    found = reasons(report)
    assert sorted(found) == [2, 3, 4, 5, 6]
    assert "L'identifiant famille F100 est déjà utilisé" in found[2]
    assert "Le foyer Benali avec le responsable Karim Benali existe déjà" in found[5]
    with pytest.raises(FileRefused, match="Aucun foyer n'est à créer"):
        household_import.run(db, agent, town, GOOD.encode())
    assert (
        count(db, Household),
        count(db, Guardian),
        count(db, Child),
        count(db, AuditEntry),
    ) == before


def test_utf8_with_bom_and_windows_1252(db, agent, town):
    line = "1;Lefèvre;;;;;Lefèvre;Hélène;;;Lefèvre;Noël;25/12/2018;;"
    with_bom = b"\xef\xbb\xbf" + csv_bytes(line)
    report = household_import.check(db, agent, town, with_bom)
    assert report.encoding == "UTF-8" and report.refused == []
    assert report.households[0].children[0].first_name == "Noël"
    report = household_import.check(db, agent, town, csv_bytes(line, encoding="cp1252"))
    assert report.encoding == "Windows-1252"
    assert report.households[0].guardians[0].full_name == "Hélène Lefèvre"


def test_comma_separator_free_column_order_and_header_spelling(db, agent, town):
    data = (
        "Enfant Prénom,Responsable_Prénom,RESPONSABLE_NOM,Nom Foyer,enfant_nom,Enfant_Naissance,Autre\r\n"
        '"Léo","Camille","Martin","Martin, Dupont","Martin","08/03/2017","x"\r\n'
    ).encode()
    report = household_import.check(db, agent, town, data)
    assert report.separator == "," and report.refused == []
    assert report.ignored_columns == ["Autre"]
    assert report.households[0].name == "Martin, Dupont"
    assert report.households[0].children[0].first_name == "Léo"


def test_missing_required_columns_refuse_the_whole_file(db, agent, town):
    with pytest.raises(FileRefused) as caught:
        household_import.check(db, agent, town, b"nom_foyer;adresse\nMartin;1 rue\n")
    assert (
        "Il manque les colonnes « responsable_nom », « responsable_prenom »" in caught.value.message
    )
    with pytest.raises(FileRefused, match="Il manque la colonne « nom_foyer »"):
        household_import.check(db, agent, town, b"responsable_nom;responsable_prenom\nA;B\n")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Le fichier est vide."),
        (b"  \n\n", "Le fichier est vide."),
        (HEADER.encode() + b"\n\n", "aucune ligne de famille"),
        (b"PK\x03\x04\x14\x00\x06\x00", "classeur"),
        (b"%PDF-1.7\n", "document PDF"),
        (b"\x00\x01\x02\x03binary\xff\xfe", "n'est pas un fichier CSV lisible"),
        (
            b"nom_foyer;responsable_nom\x81\x8d;responsable_prenom\n",
            "n'est pas un fichier CSV lisible",
        ),
    ],
)
def test_empty_binary_or_unreadable_files(db, agent, town, data, message):
    with pytest.raises(FileRefused) as caught:
        household_import.check(db, agent, town, data)
    assert message in caught.value.message and caught.value.field == "file"


def test_too_big_or_too_long_files(db, agent, town):
    line = ";Martin;;;;;Martin;Camille;;;;;;;"
    big = csv_bytes(line) + b" " * household_import.MAX_BYTES
    with pytest.raises(FileRefused, match="dépasse 2 Mo"):
        household_import.check(db, agent, town, big)
    many = csv_bytes(*([line] * (household_import.MAX_LINES + 1)))
    with pytest.raises(FileRefused, match="plus de 5\u202f000 lignes"):
        household_import.check(db, agent, town, many)


def test_each_bad_line_is_refused_with_its_number_and_reason(db, agent, town):
    future = (date.today() + timedelta(days=2)).strftime("%d/%m/%Y")
    report = household_import.check(
        db,
        agent,
        town,
        csv_bytes(
            ";;;;;;Martin;Camille;;;;;;;",  # 2 no household name
            ";Bernard;;;;;;Paul;;;;;;;",  # 3 no guardian name
            ";Petit;;;4599;;Petit;Anne;;;;;;;",  # 4 postcode
            ";Roux;;;;;Roux;Lou;;12 34;;;;;",  # 5 phone
            ";Moreau;;;;;Moreau;Eva;pas-une-adresse;;;;;;",  # 6 email
            ";Simon;;;;;Simon;Jo;;;Simon;Tom;31/02/2018;;",  # 7 impossible date
            ";Michel;;;;;Michel;Jo;;;Michel;Tom;2018-03-08;;",  # 8 date format
            f";Laurent;;;;;Laurent;Jo;;;Laurent;Tom;{future};;",  # 9 future date
            ";Garcia;;;;;Garcia;Jo;;;Garcia;;08/03/2018;;",  # 10 child first name
            "F1;Faure;1 rue A;;;;Faure;Jo;;;;;;;",  # 11 ok alone...
            "F1;Faure;2 rue B;;;;Faure;Jo;;;Faure;Lia;08/03/2018;;",  # 12 inconsistent address
            ";Blanc;;;;;Blanc;Jo;;;;;;;;",  # 13 one column too many
            "F 2;Girard;;;;;Girard;Jo;;;;;;;",  # 14 bad identifier
            ";Bon;;;;;Bon;Jo;;;Bon;Max;08/03/2018;;",  # 15 accepted
            ";Bon;;;;;Bon;Jo;;;Bon;Max;08/03/2018;;",  # 16 same child twice
        ),
    )
    found = reasons(report)
    assert "Indiquez le nom du foyer (colonne « nom_foyer »)" in found[2]
    assert "Indiquez le nom du responsable" in found[3]
    assert "Le code postal « 4599 » doit compter 5 chiffres" in found[4]
    assert "Le téléphone « 12 34 » n'est pas un numéro français" in found[5]
    assert "L'adresse e-mail « pas-une-adresse » n'est pas valide" in found[6]
    assert "« 31/02/2018 » n'est pas au format JJ/MM/AAAA" in found[7]
    assert "« 2018-03-08 » n'est pas au format JJ/MM/AAAA" in found[8]
    assert "est dans le futur" in found[9]
    assert "Indiquez le prénom de l'enfant" in found[10]
    assert "L'adresse (« 2 rue B ») diffère de celle de la ligne 11" in found[12]
    assert "Ce foyer n'est pas importé car sa ligne 12 est refusée" in found[11]
    assert "La ligne compte 16 colonnes au lieu de 15" in found[13]
    assert "ne doit contenir que des lettres, des chiffres et des tirets" in found[14]
    assert "Ce foyer n'est pas importé car sa ligne 16 est refusée" in found[15]
    assert "L'enfant Max Bon figure déjà" in found[16]
    assert report.households == []


def test_a_refused_line_refuses_its_household_but_not_the_others(db, agent, town):
    report = household_import.check(
        db,
        agent,
        town,
        csv_bytes(
            "F1;Faure;;;;;Faure;Jo;;;Faure;Lia;08/03/2018;;",
            "F1;Faure;;;;;Faure;Jo;;;Faure;Noa;pas une date;;",
            "F2;Petit;;;;;Petit;Anne;;;Petit;Lou;01/01/2020;;",
        ),
    )
    assert [h.family_number for h in report.households] == ["F2"]
    assert sorted(reasons(report)) == [2, 3]


def test_a_line_with_too_many_columns_refuses_its_household_too(db, agent, town):
    report = household_import.check(
        db,
        agent,
        town,
        csv_bytes(
            "F1;Martin;1 rue A;;45990;Testville;Martin;Camille;;;Martin;Léo;08/03/2017;;",
            "F1;Martin;1 rue A;Bât; B;45990;Testville;Martin;Camille;;;Martin;Zoé;14/09/2019;;",  # 16 columns
            ";Durand;;;;;Durand;Zoé;;;Durand;Lou;01/01/2020;;",
            "F3;Petit;;;;;Petit;Anne;;;Petit;Noé;01/01/2020",  # 13 columns, read from the end: no household
        ),
    )
    assert [h.name for h in report.households] == ["Durand"]  # neither half of Martin is created
    assert sorted(reasons(report)) == [2, 3, 5]
    assert "16 colonnes au lieu de 15" in reasons(report)[3]


def test_an_identifier_used_in_the_organisation_is_refused(db, agent, town):
    households.create_household(
        db,
        agent,
        town,
        name="Autre",
        guardian_first_name="A",
        guardian_last_name="Autre",
        family_number="F9",
    )
    report = household_import.check(db, agent, town, csv_bytes("f9;Faure;;;;;Faure;Jo;;;;;;;"))
    assert (
        "L'identifiant famille f9 est déjà utilisé dans la commune (foyer Autre)"
        in (reasons(report)[2])
    )


def test_the_import_is_all_or_nothing(db, agent, town, monkeypatch):
    seen = []

    def failing_audit(session, *args, **kwargs):
        # Every household is already written in the transaction when this fails.
        seen.append(session.scalar(select(func.count()).select_from(Household)))
        raise RuntimeError("panne au milieu de l'import")

    monkeypatch.setattr(household_import.audit, "record", failing_audit)
    with pytest.raises(RuntimeError):
        household_import.run(db, agent, town, GOOD.encode())
    assert seen == [3]
    assert (count(db, Household), count(db, Guardian), count(db, Child), count(db, AuditEntry)) == (
        0,
        0,
        0,
        0,
    )


def test_a_database_failure_during_the_import_saves_nothing(db, agent, town, monkeypatch):
    households.create_household(
        db, agent, town, name="Ancien", guardian_first_name="A", guardian_last_name="Ancien"
    )
    taken = db.scalar(select(Household.subscription_code))
    # A code abonné that collides makes the flush fail after some rows were sent.
    monkeypatch.setattr(
        household_import,
        "_subscription_codes",
        lambda session, n: ["AAAA-BBBB-CCC2", taken, "AAAA-BBBB-CCC3"][:n],
    )
    with pytest.raises(FileRefused, match="rien n'a été créé"):
        household_import.run(db, agent, town, GOOD.encode())
    assert (count(db, Household), count(db, Guardian), count(db, Child)) == (1, 1, 0)
    assert count(db, AuditEntry) == 1  # the creation of « Ancien » only


def test_the_import_stops_when_the_result_changed_since_the_dry_run(db, agent, town):
    with pytest.raises(FileRefused, match="ont changé depuis la vérification"):
        household_import.run(db, agent, town, GOOD.encode(), expected_households=2)
    assert count(db, Household) == 0


def test_only_agents_import(db, parent, town):
    with pytest.raises(Forbidden):
        household_import.check(db, parent, town, GOOD.encode())
    with pytest.raises(Forbidden):
        household_import.run(db, parent, town, GOOD.encode())
    assert count(db, Household) == 0


def test_refusals_are_domain_errors_for_the_file_field():
    assert issubclass(FileRefused, DomainError)


def test_the_documented_example_creates_what_the_documentation_says(db, agent, town):
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "import-familles.md").read_text(encoding="utf-8")
    example = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    report = household_import.check(db, agent, town, example.encode())
    assert report.refused == []
    assert report.summary() == "3 foyers, 4 responsables, 3 enfants"
    assert [(h.name, h.family_number) for h in report.households] == [
        ("Martin", "F100"),
        ("Benali", ""),
        ("Durand", ""),
    ]
