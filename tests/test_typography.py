"""French typography (livret.reading.typography), on phrases taken from the booklet."""

from __future__ import annotations

import html
import random
import re

import pytest

from livret.reading.typography import NBSP, NNBSP, french, french_html

N = NNBSP  # narrow no-break space U+202F
S = NBSP  # no-break space U+00A0
A = "\u2019"  # typographic apostrophe


def untypeset(text: str) -> str:
    """The inverse the module promises, modulo whitespace: all spaces out, ’ → '."""
    return re.sub(r"\s+", "", text.replace(A, "'"))


def tags(markup: str) -> list[str]:
    return re.findall(r"<[^>]*>", markup)


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


# --- plain text: one rule at a time ------------------------------------------------------


@pytest.mark.parametrize(
    "typed, printed",
    [
        ("Contact : Mélanie BAILLOT", f"Contact{N}: Mélanie BAILLOT"),
        ("Contact\u00a0: Mélanie BAILLOT", f"Contact{N}: Mélanie BAILLOT"),
        ("Contact  : Mélanie BAILLOT", f"Contact{N}: Mélanie BAILLOT"),  # run → one space
        ("- accéder à un contrat CDDI ;", f"- accéder à un contrat CDDI{N};"),
        (
            "Collectivités et services locaux : rejoignez le Club des territoires !",
            f"Collectivités et services locaux{N}: rejoignez le Club des territoires{N}!",
        ),
        ("Quels sont les facteurs clés de succès ?", f"Quels sont les facteurs clés de succès{N}?"),
    ],
)
def test_narrow_space_before_high_punctuation(typed, printed):
    assert french(typed) == printed


@pytest.mark.parametrize(
    "typed",
    [
        "Rendez-vous à 10:30",
        "en 13/14",
        "https://www.adil31.org/?page=1",
        "mailto:m.baillot@adil31.org",
        "Quoi?! Vraiment?",
        "Ratio 3:1",
    ],
)
def test_no_space_is_added_before_punctuation_where_none_was_typed(typed):
    assert french(typed) == typed


def test_a_line_break_before_punctuation_is_never_replaced():
    assert french("Titre\n: suite") == "Titre\n: suite"


@pytest.mark.parametrize(
    "typed, printed",
    [
        ("Programme « paniers solidaires »", f"Programme «{N}paniers solidaires{N}»"),
        ("Programme «\u00a0paniers solidaires\u00a0»", f"Programme «{N}paniers solidaires{N}»"),
        (
            "Projection-débat du film «Et maintenant, on fait quoi ?»",
            f"Projection-débat du film «{N}Et maintenant, on fait quoi{N}?{N}»",
        ),
        ("le « aller vers », aller plus loin", f"le «{N}aller vers{N}», aller plus loin"),
    ],
)
def test_guillemets_get_narrow_spaces_inside(typed, printed):
    assert french(typed) == printed


@pytest.mark.parametrize(
    "typed, printed",
    [
        ("1 000 000 € de travaux", f"1{N}000{N}000{S}€ de travaux"),
        (
            "Montant total décaissé : 1 612 764 € soit 6 040 € par personne.",
            f"Montant total décaissé{N}: 1{N}612{N}764{S}€ soit 6{N}040{S}€ par personne.",
        ),
        ("15 242 € CD Somme", f"15{N}242{S}€ CD Somme"),
        ("220 000 €", f"220{N}000{S}€"),
        # as printed: no space before € is invented
        ("25 000€ CD TUS", f"25{N}000€ CD TUS"),
    ],
)
def test_thousands_are_joined_and_euro_kept_with_its_number(typed, printed):
    assert french(typed) == printed


def test_a_year_is_not_glued_to_the_amount_that_follows():
    assert french("2023 : 1 400 000 €") == f"2023{N}: 1{N}400{N}000{S}€"
    assert french("en 2023 400 personnes") == "en 2023 400 personnes"


@pytest.mark.parametrize(
    "typed",
    [
        "entre 2017 et 2023",
        "0,5 ETP pendant 8 mois",
        "Recueil de données sur 60 situations",
        "passage de 13 salariés au à 72 à date avec 4 établissements",
        "1 ETP pour l'expérimentation".replace("'", A),
    ],
)
def test_numbers_that_are_not_thousands_are_left_alone(typed):
    assert french(typed) == typed


def test_percent():
    assert french("12 % de jeunes") == f"12{S}% de jeunes"
    assert french("12% de jeunes") == "12% de jeunes"  # printed without a space: kept
    assert french("40% de l'activité") == f"40% de l{A}activité"


@pytest.mark.parametrize(
    "typed, printed",
    [
        ("06 20 46 28 93", f"06{S}20{S}46{S}28{S}93"),
        ("Tél. : 05 61 29 07 62", f"Tél.{N}: 05{S}61{S}29{S}07{S}62"),
        ("+33 5 61 29 07 62", f"+33{S}5{S}61{S}29{S}07{S}62"),
        ("0561290762", "0561290762"),
    ],
)
def test_phone_numbers_never_break(typed, printed):
    assert french(typed) == printed


@pytest.mark.parametrize(
    "typed, printed",
    [
        ("Étude sur l'habitat dégradé", f"Étude sur l{A}habitat dégradé"),
        ("Coop'Alim", f"Coop{A}Alim"),
        ("MaPrimeRénov'", f"MaPrimeRénov{A}"),
        ("Retour d'expérience", f"Retour d{A}expérience"),
    ],
)
def test_apostrophes(typed, printed):
    assert french(typed) == printed


def test_dots_and_ellipsis_are_kept_as_printed():
    typed = "rapports de constatation des désordres, arrêtés, constats de carence..."
    assert french(typed) == typed
    assert french("Est-ce qu'il existe des dispositifs … ?") == (
        f"Est-ce qu{A}il existe des dispositifs …{N}?"
    )


@pytest.mark.parametrize(
    "typed",
    [
        "https://example.org/l'habitat?x=1",
        "www.adil31.org/l'etude",
        "m.baillot@adil31.org",
        "reseau-cocagne.org/l'association",
    ],
)
def test_urls_and_email_addresses_in_text_are_untouched(typed):
    assert french(typed) == typed
    assert french(f"Écrire à {typed} !").startswith(f"Écrire à {typed}")


def test_around_an_url_the_rules_still_apply():
    assert french("Voir : https://reseau-cocagne.org ?") == (
        f"Voir{N}: https://reseau-cocagne.org{N}?"
    )


# --- HTML --------------------------------------------------------------------------------


def test_html_mailto_href_and_address_untouched():
    markup = '<p>Contact : <a href="mailto:m.baillot@adil31.org">m.baillot@adil31.org</a></p>'
    assert french_html(markup) == (
        f'<p>Contact{N}: <a href="mailto:m.baillot@adil31.org">m.baillot@adil31.org</a></p>'
    )


def test_html_link_text_and_href():
    markup = (
        '<a href="https://reseau-cocagne.org">Manger bio solidaire - '
        "Réseau Cocagne (reseau-cocagne.org)</a>"
    )
    assert french_html(markup) == markup
    markup = "<a href=\"https://x.org/l'a?b=1\">l'association : ici</a>"
    assert french_html(markup) == f'<a href="https://x.org/l\'a?b=1">l{A}association{N}: ici</a>'


def test_html_attribute_values_are_never_changed():
    markup = (
        "<img alt=\"l'habitat : 1 000 €\" title='« x »'><abbr title=\"Qu'est-ce ?\">l'ADIL</abbr>"
    )
    assert french_html(markup) == (
        "<img alt=\"l'habitat : 1 000 €\" title='« x »'>"
        f'<abbr title="Qu\'est-ce ?">l{A}ADIL</abbr>'
    )


@pytest.mark.parametrize("element", ["code", "pre", "script", "style", "kbd"])
def test_html_code_like_elements_are_untouched(element):
    inner = "l'a : b ; « c » 1 000 € if (a < b) ?"
    markup = f"<p>l'x</p><{element}>{inner}</{element}><p>l'y</p>"
    assert french_html(markup) == f"<p>l{A}x</p><{element}>{inner}</{element}><p>l{A}y</p>"


def test_html_nested_code_in_pre():
    markup = "<pre><code>a : b</code>\nc : d</pre>e : f"
    assert french_html(markup) == f"<pre><code>a : b</code>\nc : d</pre>e{N}: f"


def test_html_entities_are_understood_and_not_broken():
    assert french_html("<p>Coop&#39;Alim &amp; l&#x27;ADIL&nbsp;: ici</p>") == (
        f"<p>Coop{A}Alim &amp; l{A}ADIL{N}: ici</p>"
    )
    kept = "<p>a &amp;b; &lt;c&gt; &eacute;t&eacute; R&amp;D &unknown; x</p>"
    assert french_html(kept) == kept
    assert french_html("<p>12&nbsp;% &laquo;&nbsp;oui&nbsp;&raquo;</p>") == (
        f"<p>12{S}% &laquo;{N}oui{N}&raquo;</p>"
    )


def test_html_rules_see_through_inline_elements():
    assert french_html("<p>du film «<em>Et maintenant, on fait quoi ?</em>»</p>") == (
        f"<p>du film «{N}<em>Et maintenant, on fait quoi{N}?</em>{N}»</p>"
    )
    assert french_html("<p><strong>Contact</strong> : Mélanie</p>") == (
        f"<p><strong>Contact</strong>{N}: Mélanie</p>"
    )


def test_html_block_elements_separate_text():
    # no space inserted after a « that ends its paragraph
    assert french_html("<p>«</p><p>suite</p>") == "<p>«</p><p>suite</p>"
    # a year in one list item and a number in the next stay apart
    assert french_html("<li>2023</li>\n<li>400 000 €</li>") == (
        f"<li>2023</li>\n<li>400{N}000{S}€</li>"
    )


def test_html_comment_and_gt_in_attribute():
    markup = "<p title=\"a > b ?\">l'a <!-- l'x : y --> ?</p>"
    # the comment is invisible: the two spaces around it are one run before "?"
    assert french_html(markup) == f'<p title="a > b ?">l{A}a{N}<!-- l\'x : y -->?</p>'


def test_markdown_output():
    markdown = pytest.importorskip("markdown")
    source = (
        "## Contexte\n\n"
        "- Programme « paniers solidaires » : 1 000 000 € de travaux, 12% de jeunes ;\n"
        "- Contact : [m.baillot@adil31.org](mailto:m.baillot@adil31.org), 06 20 46 28 93\n\n"
        "Voir `a : b` et [Réseau Cocagne](https://reseau-cocagne.org/l'x?y=1).\n"
    )
    generated = markdown.markdown(source, extensions=["extra"])
    result = french_html(generated)
    assert tags(result) == tags(generated)
    assert (
        f"«{N}paniers solidaires{N}»{N}: 1{N}000{N}000{S}€ de travaux, 12% de jeunes{N};" in result
    )
    assert f"Contact{N}: <a" in result
    assert f"06{S}20{S}46{S}28{S}93" in result
    assert "<code>a : b</code>" in result
    assert 'href="https://reseau-cocagne.org/l\'x?y=1"' in result


# --- properties --------------------------------------------------------------------------

PHRASES = [
    "Contact : Mélanie BAILLOT",
    "Programme « paniers solidaires »",
    "Projection-débat du film «Et maintenant, on fait quoi ?»",
    "1 000 000 € de travaux",
    "12% de jeunes",
    "12 % de jeunes",
    "25 000€ CD TUS",
    "Est-ce qu'il existe des dispositifs … ?",
    "06 20 46 28 93",
    "2023 : 1 400 000 €",
    "l'habitat, Coop'Alim, MaPrimeRénov'",
    "constats de carence...",
    "Envoyez un mail à : dgcs-club-des-territoires@social.gouv.fr",
    "«»",
    "« €",
    "» » «",
]

HTML_SAMPLES = [
    '<p>Contact : <a href="mailto:m.baillot@adil31.org">m.baillot@adil31.org</a></p>',
    "<p>«<em>x</em>» &amp; l&#39;a&nbsp;: <code>a : b</code></p>",
    "<ul><li>2023 : 1 400 000 €</li><li>06 20 46 28 93</li></ul>",
]


@pytest.mark.parametrize("typed", PHRASES)
def test_idempotent_and_reversible(typed):
    once = french(typed)
    assert french(once) == once
    assert untypeset(once) == untypeset(typed)
    assert once.count("\n") == typed.count("\n")


@pytest.mark.parametrize("markup", HTML_SAMPLES)
def test_html_idempotent_and_reversible(markup):
    once = french_html(markup)
    assert french_html(once) == once
    assert tags(once) == tags(markup)
    assert untypeset(text_of(once)) == untypeset(text_of(markup))


def test_random_strings_keep_the_promises():
    pieces = list("ab12 0'«»;:!?€%.,/@\n\t\u00a0\u202f\u2009") + [
        "https://a.org/l'x?y",
        "06 20 46 28 93",
        "+33 5 61 29 07 62",
        "1 000",
        "2023",
        "m.b@a.fr",
        " « ",
        " » ",
        "<em>",
        "</em>",
        "<p>",
        "</p>",
        "&amp;",
        "&#39;",
        "&nbsp;",
        "<code>",
        "</code>",
        '<a href="l\'a ?">',
        "</a>",
        "<br>",
    ]
    rng = random.Random(20231127)
    for _ in range(3000):
        typed = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        plain = typed.replace("<", "").replace(">", "")
        once = french(plain)
        assert french(once) == once, repr(plain)
        assert untypeset(once) == untypeset(plain), repr(plain)
        assert once.count("\n") == plain.count("\n"), repr(plain)
        once = french_html(typed)
        assert french_html(once) == once, repr(typed)
        assert tags(once) == tags(typed), repr(typed)
        assert untypeset(text_of(once)) == untypeset(text_of(typed)), repr(typed)


# --- names are kept whole (keep_names) -----------------------------------------------------


def test_names_are_wrapped_to_be_kept_whole():
    html = "<p>Toulouse Métropole et l'ADIE Occitanie, avec INGUENAUD à Marseille.</p>"
    out = french_html(html, keep_names=True)
    # A name of several words is kept in one span (no lone space between two spans).
    for name in ("Toulouse Métropole", "l\u2019ADIE Occitanie", "INGUENAUD", "Marseille"):
        assert f'<span class="nh">{name}</span>' in out
    assert '<span class="nh">ADIE</span>' not in out  # short words alone are left alone
    assert "</span> <" not in out
    assert "avec" in out and '<span class="nh">avec' not in out  # lower-case words untouched


def test_compound_place_names_are_never_broken():
    out = french_html("<p>dans les Hauts-de-France et en Centre-Val de Loire</p>", keep_names=True)
    assert '<span class="nb">Hauts-de-France</span>' in out
    assert '<span class="nb">Centre-Val</span>' in out
    # a lower-case compound is an ordinary word
    assert "auto-écoles" in french_html("<p>les auto-écoles</p>", keep_names=True)
    assert "<span" not in french_html("<p>les auto-écoles</p>", keep_names=True)


def test_no_space_is_left_alone_between_two_inline_elements():
    # WeasyPrint draws a lone space box as nothing: the tagged text would glue the words.
    out = french_html(
        "<p>du réseau Cocagne <em>Grand champ</em>, <b>un</b> <i>deux</i></p>", keep_names=True
    )
    assert "</span> <" not in out and "</b> <" not in out
    assert '<span class="nh">Cocagne </span><em>' in out and "<b>un </b><i>" in out
    # …nor in a link, whose underline would run under the space
    assert (
        french_html('<p><a href="#x">lien</a> <em>x</em></p>')
        == '<p><a href="#x">lien</a> <em>x</em></p>'
    )


def test_names_not_wrapped_inside_tags_code_or_by_default():
    html = '<p><a href="https://Example.org/Toulouse">Toulouse</a> <code>Marseille</code></p>'
    out = french_html(html, keep_names=True)
    assert 'href="https://Example.org/Toulouse"' in out
    assert "<code>Marseille</code>" in out
    assert french_html("<p>Toulouse</p>") == "<p>Toulouse</p>"


@pytest.mark.parametrize(
    "html",
    ["<p>Toulouse, l'Emploi, Hauts-de-France</p>", "<h2>AGILES : Mob'in</h2>", "Coop'Alim Lozère"],
)
def test_keep_names_is_idempotent_and_keeps_the_text(html):
    once = french_html(html, keep_names=True)
    assert french_html(once, keep_names=True) == once
    strip = re.compile(r'</?span(?: class="n[hb]")?>')
    assert strip.sub("", once) == french_html(html)
