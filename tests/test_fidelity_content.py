"""Fidelity: the content of edition #01 checked against the source text (SEED: the text
extracted from the printed booklet), explicitly and apart from every other test.

Each test runs twice: on the frozen copy every other test uses (tests/fixtures/edition-01/),
and on the live content/, which must still say what the source says (names, numbers and
e-mails as printed). These are the only tests that read the live content/: an edit of it
that is not in the source shows here, and nowhere else."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import CONTENT, LIVE_CONTENT, seed_text

from livret.reading.loader import load_site
from livret.reading.model import SIDEBAR_FIELDS
from livret.rendering.render import date_fr

pytestmark = pytest.mark.fidelity


@pytest.fixture(scope="module", params=[CONTENT, LIVE_CONTENT], ids=["edition-01", "content"])
def content(request) -> Path:
    """The frozen edition #01, then the live content/."""
    return request.param


@pytest.fixture(scope="module")
def site(content):
    return load_site(content)


@pytest.fixture(scope="module")
def seed_lines() -> list[str]:
    return seed_text().split("\n")


def unmark(text: str) -> str:
    """A line of the seed as read: no Markdown emphasis, no heading marks, one space."""
    text = re.sub(r"^#+\s*", "", text.strip())
    return " ".join(text.replace("*", "").split())


# --- edition, themes, order ------------------------------------------------------------------


def test_counts(site, content):
    assert len(site.themes) == 3
    assert len(site.actions) == 10
    assert len({a.slug for a in site.actions}) == 10
    assert sorted(a.slug for a in site.actions) == sorted(
        p.stem for p in (content / "actions").glob("*.md")
    )


def test_edition(site, seed_lines):
    ed = site.edition
    assert ed.number == 1
    assert ed.number_label == "#01"
    assert ed.full_title == "Retour d'expérience #01"
    assert ed.date == dt.date(2023, 11, 27)
    assert ed.slug == "retour-experience-01"
    assert ed.title == "Actions inspirantes sur la transition écologique solidaire"
    assert ed.subtitle == "dans le cadre des pactes locaux des solidarités"
    assert ed.tagline == "Une évaluation 360° pour ne pas travailler en silos"
    assert ed.publisher == "Club des territoires"
    assert ed.contact_email == "dgcs-club-des-territoires@social.gouv.fr"
    assert ed.theme_slugs == ("precarite-energetique", "precarite-alimentaire", "mobilites")
    # What the cover prints is what the source's cover says.
    assert seed_lines[2] == ed.full_title
    assert seed_lines[6] == date_fr(ed.date) == "27 novembre 2023"
    assert unmark(seed_lines[8]) == f"{ed.title} {ed.subtitle}"
    assert " ".join(" ".join(seed_lines[10:13]).split()) == ed.tagline


def test_back_cover(site):
    bc = site.edition.back_cover
    assert bc.heading == (
        "Vous souhaitez vous renseigner sur les travaux et les rencontres du Club des Territoires ?"
    )
    assert bc.text == "Envoyez un mail à :"
    assert bc.join == "Collectivités et services locaux : rejoignez le Club des territoires !"


THEMES = {
    "precarite-energetique": ("Précarité énergétique", ["adil-31", "sos-taudis", "cd41"]),
    "precarite-alimentaire": (
        "Précarité alimentaire",
        ["reseau-cocagne", "coop-alim", "gers-solidaire"],
    ),
    "mobilites": ("Mobilités", ["apfe", "adie", "gas-18", "mde-marseille"]),
}


def test_themes_in_order_with_their_actions_in_printed_order(site):
    assert [t.slug for t in site.themes] == list(THEMES)
    for theme in site.themes:
        title, slugs = THEMES[theme.slug]
        assert theme.title == title
        assert [a.slug for a in theme.actions] == slugs
        assert list(theme.action_slugs) == slugs
        assert all(a.theme == theme.slug for a in theme.actions)
        assert re.fullmatch(r"#[0-9a-f]{6}", theme.colour)
    assert len({t.colour for t in site.themes}) == 3


def test_parts_and_cards_follow_the_source(site, seed_lines):
    """The source's part headings and card headings, in order, are the themes and cards."""
    start = seed_lines.index("# Introduction")
    end = seed_lines.index("# Remerciements")
    parts: list[tuple[str, list[str]]] = []
    for line in seed_lines[start + 1 : end]:
        if re.match(r"^# [^→]", line):
            parts.append((unmark(line), []))
        elif re.match(r"^#{1,2} →", line):
            parts[-1][1].append(unmark(line).removeprefix("→ "))
    assert parts == [
        (t.title, [f"{a.title}, {a.organisation}" for a in t.actions]) for t in site.themes
    ]


def test_each_action_theme(site):
    expected = {slug: theme for theme, (_, slugs) in THEMES.items() for slug in slugs}
    assert {a.slug: a.theme for a in site.actions} == expected


def seed_block_after(seed_lines: list[str], heading: str, marker: str) -> list[str]:
    """The `- *item*` lines following `marker` in the part that starts at `heading`."""
    i = seed_lines.index(heading)
    j = next(n for n in range(i, len(seed_lines)) if seed_lines[n].strip() == marker)
    items = []
    for line in seed_lines[j + 1 :]:
        if line.startswith("- "):
            items.append(unmark(line[2:]))
        elif line.strip():
            break
    return items


def test_notions_are_the_source_lists(site):
    lines = seed_text().split("\n")
    for theme in site.themes:
        notions = seed_block_after(lines, f"# {theme.title}", "### Notions clés :")
        assert list(theme.notions) == notions and len(notions) >= 6


def test_takeaways(site):
    pe = site.theme("precarite-energetique")
    assert [i.title for i in pe.initiatives] == [
        "Le collectif des Possible",
        "Une plateforme et un réseau en PACA de lutte contre la précarité énergétique",
    ]
    assert pe.initiatives[1].items[-1] == "Réseau animé par la CRESS PACA."
    assert pe.callouts[-1] == (
        "Est-ce qu'il existe des dispositifs pouvant aider à lutter "
        "contre le non-recours au chèque énergie ?"
    )
    pa = site.theme("precarite-alimentaire")
    assert pa.callouts == ("L'attente de retours d'expérience pour la plateforme Soliguide",)
    assert pa.initiatives[1].items[0] == "Projection-débat du film «Et maintenant, on fait quoi ?»"
    mo = site.theme("mobilites")
    assert [i.title for i in mo.initiatives] == [
        "Mob'in",
        "Garage associatif solidaire en Centre-Val de Loire",
    ]


# --- sidebar facts, exactly as printed -----------------------------------------------------

FACTS = [
    ("adil-31", lambda a: a.contact.emails, ("m.baillot@adil31.org",)),
    ("adil-31", lambda a: a.contact.phones, ("05 61 29 07 62",)),
    ("adil-31", lambda a: a.place, "Toulouse, Région Occitanie (31)"),
    ("adil-31", lambda a: a.cost_total, ("En cours",)),
    ("sos-taudis", lambda a: a.contact.name, "CHAMVOUX Sylvie (FAP Occitanie)"),
    ("sos-taudis", lambda a: a.date, "À partir de 2024"),
    ("sos-taudis", lambda a: a.partners, ("Opérateurs ANAH", "Collectivités...")),
    ("cd41", lambda a: a.cost_total[0], "1 000 000 € de travaux"),
    ("cd41", lambda a: a.contact.phones, ("02 54 58 47 32", "06 75 71 23 72")),
    ("cd41", lambda a: a.pilot, ("Conseil départemental", "Direction Insertion Emploi Habitat")),
    ("reseau-cocagne", lambda a: a.contact.phones, ("06 20 46 28 93",)),
    ("reseau-cocagne", lambda a: a.contact.name, "Julien ADDA, directeur"),
    (
        "reseau-cocagne",
        lambda a: a.cost_cofunders,
        ("2023 : 200 000 €", "2024 : 410 000 €", "2025 : 410 000 €"),
    ),
    ("coop-alim", lambda a: a.contact.emails, ("gesmip@gmail.com",)),
    ("coop-alim", lambda a: a.contact.name, "Jean Louis CLÉMENT (Coop'Alim)"),
    ("coop-alim", lambda a: a.cost_total, ("Budget de 2,5 millions environ",)),
    ("gers-solidaire", lambda a: a.label("pilot"), "Membre du Groupement d'Intérêt Public"),
    ("gers-solidaire", lambda a: a.pilot[-1], "UDCCAS."),
    ("apfe", lambda a: a.label("cost_cofunders"), "dont cofinanciers"),
    ("apfe", lambda a: a.cost_cofunders[3], "25 000€ CD TUS"),
    ("apfe", lambda a: a.contact.emails, ("l.gaffet@apfe.fr",)),
    ("adie", lambda a: a.contact.emails, ("yjarland@adie.org", "einguenaud@adie.org")),
    ("adie", lambda a: a.contact.name, "Yves JARLAND et Elliott INGUENAUD"),
    ("adie", lambda a: a.cost_self_funding, ("27 665 €",)),
    (
        "adie",
        lambda a: a.notes[0],
        "La part des femmes au minima sociaux bénéficiaires d'un microcrédit mobilité est de 70%",
    ),
    ("gas-18", lambda a: a.contact.name, "Nadine ROYERE, directrice"),
    ("gas-18", lambda a: a.contact.emails, ("nadine.royere@gas18mobilites.com",)),
    ("gas-18", lambda a: a.cost_human, ("1 960 000 € budget global Structure (BP 2024)",)),
    ("mde-marseille", lambda a: a.contact.phones, ("06 27 66 61 44",)),
    ("mde-marseille", lambda a: a.label("publics_direct"), "Publics bénéficiaires"),
    (
        "mde-marseille",
        lambda a: a.cost_total[0],
        "Pour un-e Conseiller-e : 35 520 € salaire brut + charge (avantages inclus)",
    ),
    ("mde-marseille", lambda a: a.cost_total[-1], "TOTAL : 59 570 €"),
]


@pytest.mark.parametrize(
    "slug, get, expected", FACTS, ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(FACTS)]
)
def test_sidebar_fact(site, slug, get, expected):
    assert get(site.action(slug)) == expected
    # …and each value is in the source, as printed (spaces across line breaks aside).
    seed = " ".join(seed_text().replace("*", "").split())
    for value in expected if isinstance(expected, tuple) else (expected,):
        assert value in seed, value


@pytest.mark.parametrize(
    "slug, field, index, halves",
    [
        (
            "gers-solidaire",
            "publics_direct",
            0,
            ("Les 12 000 bénéficiaires", "de l'aide alimentaire"),
        ),
        (
            "adie",
            "publics_direct",
            6,
            ("22% de personnes en", "Zones de Revitalisation Rurale (ZRR)"),
        ),
    ],
)
def test_sidebar_item_rejoined(site, slug, field, index, halves):
    """A sidebar item the source cut in two (column break) is one item, rejoined."""
    assert getattr(site.action(slug), field)[index] == " ".join(halves)
    seed = " ".join(seed_text().replace("*", "").split())
    assert " ".join(halves) not in seed and all(h in seed for h in halves)


def test_every_card_has_its_contact_and_place(site):
    for a in site.actions:
        assert a.contact is not None and a.contact.name, a.slug
        assert a.contact.emails, a.slug
        assert a.place and a.date and a.pilot and a.partners and a.publics_direct, a.slug


def test_default_labels_unless_the_source_prints_another(site):
    overridden = {(a.slug, k): v for a in site.actions for k, v in a.labels.items()}
    assert overridden == {
        ("gers-solidaire", "pilot"): "Membre du Groupement d'Intérêt Public",
        ("apfe", "cost_cofunders"): "dont cofinanciers",
        ("mde-marseille", "publics_direct"): "Publics bénéficiaires",
    }
    assert site.action("adie").label("cost_cofunders") == SIDEBAR_FIELDS["cost_cofunders"]


def test_gas18_prints_the_cost_total_label(site):
    keys = [key for key, _, _ in site.action("gas-18").sidebar()]
    assert "cost_total" in keys
    assert keys.index("cost_total") < keys.index("cost_human")


# --- card sections ---------------------------------------------------------------------------

I, E, O, N, D = (  # noqa: E741 (the initials of the five section titles)
    "Indicateurs de résultat et objectifs cibles",
    "Enjeux",
    "Objectifs opérationnels",
    "Nature des actions conduites",
    "Description des actions",
)
SECTIONS = {
    "adil-31": ["Contexte", E, N, D, I, "Documentation produite"],
    "sos-taudis": [E, O, N, I, "Documentation produite", "Bilan"],
    "cd41": ["Contexte", E, O, N, D, I, "Documentations produites"],
    "reseau-cocagne": ["Contexte", E, O, N, D, I, "Documentation produite"],
    "coop-alim": ["Contexte", E, O, N, D, I, "Documentations produites"],
    "gers-solidaire": ["Contexte", E, N, I, "Documentations produites"],
    "apfe": ["Contexte", E, O, I, "Documentations produites"],
    "adie": ["Contexte", E, O, N, D, I, "Documentation produite"],
    "gas-18": ["Contexte", E, O, I, "Bilan"],
    "mde-marseille": ["Contexte", E, O, D, I, "Documentation produite", "Bilan"],
}


@pytest.mark.parametrize("slug", list(SECTIONS))
def test_card_sections(site, slug):
    action = site.action(slug)
    assert [s.title for s in action.sections] == SECTIONS[slug]
    assert all(s.markdown.strip() for s in action.sections)
    assert len({s.slug for s in action.sections}) == len(action.sections)


def test_transverse_stakes_are_subheadings_of_enjeux(site):
    for a in site.actions:
        for s in a.sections:
            if "Dont enjeux transverses" in s.markdown:
                assert s.title == "Enjeux", a.slug
    with_transverse = {
        a.slug
        for a in site.actions
        if any("### Dont enjeux transverses" in s.markdown for s in a.sections)
    }
    assert with_transverse == {"cd41", "reseau-cocagne", "apfe", "adie", "gas-18", "mde-marseille"}


def bilan_questions(markdown: str) -> list[str]:
    return [line[4:] for line in markdown.split("\n") if line.startswith("### ")]


def test_sos_taudis_bilan_questions_are_the_source_questions(site, seed_lines):
    start = next(i for i, s in enumerate(seed_lines) if s.startswith("# → **SOS Taudis"))
    end = next(i for i in range(start + 1, len(seed_lines)) if seed_lines[i].startswith("# →"))
    source = [
        unmark(s)
        for s in seed_lines[start:end]
        if s.startswith("*") and re.search(r"\?\*+$", s.rstrip())
    ]
    assert len(source) == 6
    bilan = next(s for s in site.action("sos-taudis").sections if s.title == "Bilan")
    assert bilan_questions(bilan.markdown) == source


@pytest.mark.parametrize("slug", ["sos-taudis", "gas-18", "mde-marseille"])
def test_bilan_has_the_six_questions(site, slug):
    bilan = next(s for s in site.action(slug).sections if s.title == "Bilan")
    questions = bilan_questions(bilan.markdown)
    assert len(questions) == 6
    assert questions[0].startswith("Quels sont les écarts observés")
    assert questions[-1].startswith("Quelles perspectives ?")
    assert all(q.endswith("?") for q in questions)


# --- text rejoined across the sidebar and page breaks ----------------------------------------

REJOINED = [
    ("sos-taudis", "n'aboutissent pas faute de moyens dédiés aux opérateurs ANAH"),
    ("adil-31", "à partir des documents liés aux procédures (rapports de constatation"),
    ("apfe", "permettent l'inclusion des personnes et donc de nos bénéficiaires."),
    ("adie", "le plan de la mobilité quotidienne (lieu mal desservi"),
    ("gas-18", "(sur le territoire, les partenariats, la gouvernance...)"),
    ("gas-18", "Éléments favorisant l'essaimage du déploiement sur d'autres territoires :"),
    ("mde-marseille", "l'obtention du permis de conduire, qui reste un objectif majoritairement"),
    ("gers-solidaire", "que nous déployons en itinérance :\n\n- permanences santé sur 27 lieux"),
]


@pytest.mark.parametrize("slug, sentence", REJOINED)
def test_sentences_rejoined(site, slug, sentence):
    body = "\n\n".join(s.markdown for s in site.action(slug).sections)
    assert sentence in body


def test_introduction_rejoined_and_complete(site):
    intro = site.introduction
    assert intro.title == "Introduction"
    assert "Ces actions s'inscrivent dans le cadre du référentiel national" in intro.markdown
    assert "s'ins-" not in intro.markdown
    assert [s[3:] for s in intro.markdown.split("\n") if s.startswith("## ")] == [
        "Le Club des territoires",
        "Un groupe de travail thématique sur le Pacte des solidarités",
    ]
    assert "10 actions inspirantes" in intro.markdown


def test_no_hyphen_left_from_line_breaks(content):
    """A word cut at a line end ("terri-", "s'ins-") is rejoined everywhere."""
    for path in sorted(content.rglob("*")):
        if path.suffix in (".md", ".yaml"):
            for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
                assert not re.search(r"\w-$", line), f"{path.name}:{n}: {line}"


def test_no_lost_link_anywhere_in_content(content):
    for path in sorted(content.rglob("*")):
        if path.is_file():
            assert "](#)" not in path.read_text(encoding="utf-8"), path


def test_thanks(site):
    th = site.thanks
    assert th.title == "Remerciements"
    assert [len(g.people) for g in th.groups] == [12, 15, 4, 1]
    assert th.groups[0].title == "Intervenant·e·s"
    assert (th.groups[0].people[0].name, th.groups[0].people[0].role) == (
        "Mélanie BAILLOT",
        "Association ADIL 31",
    )
    assert th.groups[-1].people[0].name == "Maelle FERRÉ, designeuse"


def test_every_acronym_expansion_is_in_the_source_or_official(site):
    """The expansions come from the source text where it spells them out (as written there);
    the others are official names. Each acronym is one the booklet prints (moved from
    tests/test_acronyms.py)."""
    acronyms = dict(site.edition.acronyms)
    assert len(acronyms) >= 40
    seed = seed_text()
    for word in acronyms:
        assert re.search(rf"(?<!\w){word}(?!\w)", seed), word
    from_source = {"QPV", "ZRR", "CEMI", "LOA", "ASS", "ACI", "TUS", "DHIE", "DASP", "AOM"}
    for word in from_source:
        assert acronyms[word].lower() in seed.lower(), (word, acronyms[word])


# --- word-level recall against the source ------------------------------------------------------

# A word: letters/digits, possibly joined by ' ’ · . @ / , - (d'expérience, m.baillot@adil31.org,
# Conseiller·e, 2,79, 13/14, Loir-et-Cher); everything else (markup, bullets, €, :) separates.
WORD = re.compile(r"\w+(?:['’·.@/,\-]\w+)*")


def words(text: str) -> list[str]:
    text = re.sub(r"\]\([^)\s]*\)", " ", text)  # keep a link's label, drop its address
    text = re.sub(r"<[^>]+>", " ", text)  # <b>, <i>
    text = text.replace("\\", "")  # Markdown escapes: \( \)
    return [w.lower().replace("’", "'") for w in WORD.findall(text)]


def seed_words() -> Counter:
    """The source's words, without its SOMMAIRE page (generated by the layout)."""
    lines = seed_text().split("\n")
    start = lines.index("# SOMMAIRE")
    end = lines.index("# Introduction")
    return Counter(words("\n".join(lines[:start] + lines[end:])))


def printed(site) -> tuple[Counter, Counter]:
    """(content words, layout words) as the booklet prints them.

    Content words are every printed text of content/, counted as many times as the layout
    prints it: a theme's title on its opener and in each card's "Thématique", an action's
    title and organisation in its theme's opener list and on its card. Layout words are the
    labels the layout prints itself (default sidebar labels, "Thématique", the opener's
    headings); an overridden label (`labels:`) is content.
    """
    content: list[str] = []
    layout: list[str] = []
    ed = site.edition
    content += [
        ed.series,
        ed.number_label,
        ed.publisher,
        date_fr(ed.date),
        ed.title,
        ed.subtitle,
        ed.tagline,
        ed.back_cover.heading,
        ed.back_cover.text,
        ed.contact_email,
        ed.back_cover.join,
    ]
    content += [site.introduction.title, site.introduction.markdown]
    for theme in site.themes:
        content += [theme.title] * (1 + len(theme.actions))
        layout.append("À retenir des échanges lors du webinaire :")
        if theme.notions:
            layout.append("Notions clés :")
        content += [*theme.notions, *theme.callouts]
        for i in theme.initiatives:
            content += [i.title, *i.items]
        for a in theme.actions:
            content += [a.title, a.organisation] * 2
            layout.append("Thématique :")
            for key, label, value in a.sidebar():
                (content if key in a.labels else layout).append(label)
                if key == "contact":
                    content += [value.name, *value.emails, *value.phones]
                elif isinstance(value, str):
                    content.append(value)
                else:
                    content += list(value)
            for s in a.sections:
                content += [s.title, s.markdown]
    content.append(site.thanks.title)
    for g in site.thanks.groups:
        content.append(g.title)
        for p in g.people:
            content += [p.name, p.role or ""]
    return (
        Counter(w for t in content for w in words(t)),
        Counter(w for t in layout for w in words(t)),
    )


# Words the source splits or spells differently where the content follows the rules of
# docs/content.md ("words hyphenated across lines are rejoined"; the opener lists are generated
# from the cards, so they print the card's title, not the opener's variant).
REJOINED_WORDS = {"s'inscrivent": ["s'ins", "crivent"], "territoire": ["terri", "toire"]}
TITLE_VARIANTS = {"conseiller·e": ["conseillère·e"]}  # Mobilités opener: "Conseillère·e"


def recall_figures(site):
    seed = seed_words()
    content, layout = printed(site)
    source = seed - layout  # the source's words that content/ must give
    common = source & content
    recall = sum(common.values()) / sum(source.values())
    missing = source - content
    extra = content - source
    return seed, layout, source, content, recall, missing, extra


def test_word_recall_against_the_source(site):
    seed, layout, source, content, recall, missing, extra = recall_figures(site)
    precision = sum((source & content).values()) / sum(content.values())
    print(
        f"\nword recall: {recall:.4f} ({sum(source.values()) - sum(missing.values())}"
        f"/{sum(source.values())} source words; {sum(layout.values())} layout words removed); "
        f"precision: {precision:.4f}"
    )
    print(f"missing: {sorted(missing.elements())}")
    print(f"extra: {sorted(extra.elements())}")
    assert sum(source.values()) > 7000  # the whole booklet, not an empty parse
    assert recall >= 0.995, f"recall {recall:.4f}; missing: {sorted(missing.elements())}"
    # Precision-like: content words the source does not have are only rejoined words and
    # title variants, each explained by the source's own fragments.
    unexplained = []
    for word in extra.elements():
        parts = REJOINED_WORDS.get(word) or TITLE_VARIANTS.get(word)
        if not parts or not all(missing[p] for p in parts):
            unexplained.append(word)
    assert not unexplained, f"content words not in the source: {unexplained}"
    assert sum(extra.values()) <= 5, sorted(extra.elements())


def test_layout_labels_are_printed_in_the_source(site):
    """Every label the layout prints (as many times as it prints it) is in the source."""
    seed, layout, *_ = recall_figures(site)
    assert not layout - seed, dict(layout - seed)
    assert layout["thématique"] == 10


def test_every_source_word_is_accounted_for(site):
    *_, missing, extra = recall_figures(site)
    explained = Counter(
        p
        for table in (REJOINED_WORDS, TITLE_VARIANTS)
        for word, parts in table.items()
        if extra[word]
        for p in parts
    )
    assert not missing - explained, sorted((missing - explained).elements())
