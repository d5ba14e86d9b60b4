"""The vocabularies of the national open-data schema of digital-mediation places
(standard-mediation-num v1.0.2, a copy in ``controller/data/mednum-schema-v1.0.2.json``).

Sites store the schema's own values (French words, typology codes), so the export writes them
as they are and the admin form shows them as the national map does. The values come from the
patterns of the schema's fields, not from their descriptions, which disagree in places
("Comprehension du monde numérique" without its accent): the validator follows the patterns.
They are written here once rather than read from the JSON at run time, so that a new version
of the schema is a reviewed change (``tests/controller/places/test_vocabularies.py`` checks them
against the copy).
"""

from __future__ import annotations

import enum
import re


class Service(enum.StrEnum):
    """``services``: the kinds of help the place offers."""

    ADMINISTRATIVE_PROCEDURES = "Aide aux démarches administratives"
    EVERYDAY_TOOLS = "Maîtrise des outils numériques du quotidien"
    EMPLOYMENT = "Insertion professionnelle via le numérique"
    SAFE_USE = "Utilisation sécurisée du numérique"
    PARENTING = "Parentalité et éducation avec le numérique"
    LEISURE = "Loisirs et créations numériques"
    UNDERSTANDING = "Compréhension du monde numérique"
    INTERNET_AND_COMPUTERS = "Accès internet et matériel informatique"
    LOW_COST_EQUIPMENT = "Acquisition de matériel informatique à prix solidaire"


class Public(enum.StrEnum):
    """``publics_specifiquement_adresses``: the publics a place is meant for, if not everyone."""

    YOUNG_PEOPLE = "Jeunes"
    STUDENTS = "Étudiants"
    FAMILIES = "Familles et/ou enfants"
    SENIORS = "Seniors"
    WOMEN = "Femmes"


class AccessMode(enum.StrEnum):
    """``modalites_acces``: how a resident gets the place's help."""

    WALK_IN = "Se présenter"
    PHONE = "Téléphoner"
    EMAIL = "Contacter par mail"
    ONLINE_APPOINTMENT = "Prendre un RDV en ligne"
    NOT_OPEN_TO_PUBLIC = "Ce lieu n'accueille pas de public"
    REFERRAL_BY_EMAIL = "Envoyer un mail avec une fiche de prescription"


class SupportMode(enum.StrEnum):
    """``modalites_accompagnement``: how residents are helped."""

    ON_ONE_S_OWN = "En autonomie"
    ONE_TO_ONE = "Accompagnement individuel"
    GROUP_WORKSHOP = "Dans un atelier collectif"
    REMOTE = "À distance"


class Fee(enum.StrEnum):
    """``frais_a_charge``: what the help costs."""

    FREE = "Gratuit"
    FREE_ON_CONDITIONS = "Gratuit sous condition"
    PAID = "Payant"


# ``typologie``: the kinds of structure of data.inclusion's vocabulary, which the schema points
# to (https://www.data.inclusion.beta.gouv.fr/, "typologies de structure"), code → its label.
TYPOLOGIES: dict[str, str] = {
    "ACI": "Structures porteuses d'ateliers et chantiers d'insertion (ACI)",
    "ACIPHC": "SIAE — Atelier chantier d'insertion premières heures en chantier",
    "AFPA": "Agence nationale pour la formation professionnelle des adultes (AFPA)",
    "AI": "Associations intermédiaires (AI)",
    "ASE": "Aide sociale à l'enfance (ASE)",
    "ASSO": "Associations",
    "ASSO_CHOMEUR": "Associations de chômeurs",
    "AVIP": "Crèche À Vocation d'Insertion Professionnelle (AVIP)",
    "Autre": "Autre",
    "BIB": "Bibliothèque / Médiathèque",
    "CAARUD": "Centre d'accueil et d'accompagnement à la réduction de risques pour usagers "
    "de drogues (CAARUD)",
    "CADA": "Centres d'accueil de demandeurs d'asile (CADA)",
    "CAF": "Caisses d'allocation familiale (CAF)",
    "CAP_EMPLOI": "Cap Emploi",
    "CAVA": "Centres d'adaptation à la vie active (CAVA)",
    "CC": "Communautés de Commune",
    "CCAS": "Centres communaux d'action sociale (CCAS)",
    "CCONS": "Chambres consulaires (CCI, CMA, CA)",
    "CD": "Conseils Départementaux (CD)",
    "CDAS": "Centre Départemental d'Action Sociale (CDAS)",
    "CFP": "Centre des Finances Publiques (CFP)",
    "CHRS": "Centres d'hébergement et de réinsertion sociale (CHRS)",
    "CHU": "Centres d'hébergement d'urgence (CHU)",
    "CIAS": "Centres intercommunaux d'action sociale (CIAS)",
    "CIDFF": "Centres d'information sur les droits des femmes et des familles (CIDFF)",
    "CITMET": "Cité des métiers",
    "CMP": "Centre Médico-Psychologique (CMP)",
    "CMS": "Centre Médico-Social (CMS)",
    "CPAM": "Caisse Primaire d'Assurance Maladie (CPAM)",
    "CPH": "Centres provisoires d'hébergement (CPH)",
    "CS": "Centre social",
    "CSAPA": "Centre de soins, d'accompagnement et de prévention en addictologie (CSAPA)",
    "CSC": "Centre Socio-Culturel (CSC)",
    "DEETS": "Directions de l'Economie, de l'Emploi, du Travail et des Solidarités (DEETS)",
    "DEPT": "Services sociaux du Conseil départemental",
    "DIPLP": "Délégation interministérielle à la prévention et à la lutte contre la pauvreté",
    "E2C": "École de la 2e chance (E2C)",
    "EA": "Entreprise adaptée (EA)",
    "EATT": "Entreprise Adaptée (EATT)",
    "EI": "Entreprises d'insertion (EI)",
    "EITI": "Entreprises d'insertion par le travail indépendant (EITI)",
    "ENM": "Espace Numérique Mobile (ENM)",
    "EPCI": "Intercommunalité (EPCI)",
    "EPI": "Espace Public Internet (EPI)",
    "EPIDE": "Établissement pour l'insertion dans l'emploi (EPIDE)",
    "EPN": "Espace Public Numérique (EPN)",
    "ES": "Épicerie Solidaire",
    "ESS": "Entreprise de l'Économie Sociale et Solidaire",
    "ETABL_PRI": "Établissement privé",
    "ETABL_PUB": "Établissement public",
    "ETAT": "Service de l'État",
    "ETTI": "Entreprises de travail temporaire d'insertion (ETTI)",
    "EVS": "Espace de Vie Sociale (EVS)",
    "FABLAB": "Fablab / Atelier partagé",
    "FAIS": "Fédérations d'acteurs de l'insertion et de la solidarité",
    "FT": "France Travail",
    "GEIQ": "Groupements d'employeurs pour l'insertion et la qualification (GEIQ)",
    "HUDA": "Hébergement d'urgence pour demandeurs d'asile (HUDA)",
    "LA_POSTE": "Bureau de poste / Agence postale",
    "MDE": "Maison de l'emploi",
    "MDEF": "Maison de l'emploi et de la formation",
    "MDPH": "Maison Départementale des Personnes Handicapées",
    "MDS": "Maison Départementale des Solidarités",
    "MJC": "Maison des jeunes et de la culture",
    "ML": "Mission Locale",
    "MQ": "Maison de quartier",
    "MSA": "Mutualité Sociale Agricole",
    "MSAP": "Maison de Services Au Public (MSAP)",
    "MUNI": "Municipalités",
    "OACAS": "Organisme d'accueil communautaire et d'activité solidaire (OACAS)",
    "ODC": "Organisation délégataire d'un CD",
    "OF": "Organisme de formations",
    "OIL": "Opérateur d'intermédiation locative",
    "OPCS": "Organisation porteuse de la clause sociale",
    "PAD": "Point d'Accès au Droit",
    "PENSION": "Pension de famille / résidence accueil",
    "PI": "Point Information (PI)",
    "PIJ_BIJ": "Points et bureaux information jeunesse (PIJ/BIJ)",
    "PIMMS": "Point Information Médiation Multi Services (PIMMS)",
    "PJJ": "Protection judiciaire de la jeunesse (PJJ)",
    "PLIE": "Plans locaux pour l'insertion et l'emploi (PLIE)",
    "PREF": "Préfecture, Sous-Préfecture",
    "PREVENTION": "Service ou club de prévention",
    "REG": "Région",
    "RESSOURCERIE": "Ressourcerie",
    "RFS": "Réseau France Services",
    "RS_FJT": "Résidence sociale / FJT - Foyer de Jeunes Travailleurs",
    "SCP": "Services et clubs de prévention",
    "SPIP": "Services pénitentiaires d'insertion et de probation (SPIP)",
    "TIERS_LIEUX": "Tiers lieu & coworking",
    "UDAF": "Union Départementale d'Aide aux Familles (UDAF)",
}

# What borne knows from its devices rather than from a place's declared services: lists of
# places (the demo's among them) often put them in ``services``, which the schema does not
# allow. The import drops them with a warning (the public pages show a place's wifi, PCs and
# chargers from its devices) and the export never writes them; any other unknown value is an
# error. Compared without case or accents.
DEVICE_OFFERS = ("Wifi", "Wi-Fi", "Recharge de téléphone", "Ordinateurs en libre accès")

# Patterns of the schema's constraints, and the SIRET's and RNA's shapes.
PIVOT = re.compile(r"^[a-zA-Z0-9]{9,14}$")
SIRET = re.compile(r"^\d{14}$")
POSTCODE = re.compile(r"^\d{5}$")
INSEE_CODE = re.compile(r"^([013-9]\d|2[AB1-9])\d{3}$")
PHONE = re.compile(r"^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)(\d){6,9}$")
SUMMARY_MAX = 280
LIST_SEPARATOR = "|"  # between the values of one field, in the CSV
