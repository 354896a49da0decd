"""Normalisation: formatting noise never changes the words, and every word's offsets
point back at it in the original text."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.provenance.domain import normalize
from services.provenance.domain.normalize import tokenize

WORDS = st.lists(
    st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12),
    min_size=1,
    max_size=40,
)
INVISIBLE = ["\u200b", "\u00ad", "\u2060", "\ufeff", "\ufe0f", "\u200d"]
SEPARATORS = [" ", "  ", "\n", "\t", ", ", " \u2014 ", "\u2026 ", " \u201c", "\u201d ", " - "]
TAGS = ["<b>", "</b>", "<p class='x'>", "</p>", "<br/>", "<!-- note -->"]


def clean_words(words: list[str]) -> list[str]:
    return tokenize(" ".join(words)).words


@st.composite
def noisy(draw: st.DrawFn) -> tuple[list[str], str]:
    """Words and a noisy rendering: case, separators, tags, invisible characters."""
    words = draw(WORDS)
    pieces = []
    for word in words:
        # Case is noise, except where Unicode upper-casing loses information (dotless i).
        if draw(st.booleans()) and word.upper().casefold() == word.casefold():
            word = word.upper()
        if len(word) > 1 and draw(st.integers(0, 3)) == 0:
            cut = draw(st.integers(1, len(word) - 1))
            word = word[:cut] + draw(st.sampled_from(INVISIBLE)) + word[cut:]
        pieces.append(word)
        separator = draw(st.sampled_from(SEPARATORS))
        if draw(st.integers(0, 3)) == 0:
            separator = f" {draw(st.sampled_from(TAGS))} "
        pieces.append(separator)
    return words, "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(noisy())
def test_formatting_noise_changes_no_word(case: tuple[list[str], str]) -> None:
    words, text = case
    assert tokenize(text).words == clean_words(words)


@settings(max_examples=300, deadline=None)
@given(noisy())
def test_offsets_map_each_word_back_to_the_original(case: tuple[list[str], str]) -> None:
    _, text = case
    tokens = tokenize(text)
    assert len(tokens.starts) == len(tokens.ends) == len(tokens.words)
    for word, start, end in zip(tokens.words, tokens.starts, tokens.ends, strict=True):
        original = text[start:end]
        # The original slice, minus invisible characters, normalises to the word.
        assert tokenize(original).words == [word]
        assert end > start
    assert list(tokens.starts) == sorted(tokens.starts)


def test_entities_curly_quotes_dashes_and_case_match_plain_ascii() -> None:
    plain = tokenize("Don't panic - it's only 5 o'clock... said the Minister")
    fancy = tokenize(
        "DON\u2019T panic \u2014 it&rsquo;s only 5 o\u2019clock\u2026 said the <i>Minister</i>"
    )
    assert fancy.words == plain.words


def test_nfkc_and_casefold() -> None:
    assert tokenize("\ufb01nance Stra\u00dfe \uff21\uff22\uff23").words == [
        "finance",
        "strasse",
        "abc",
    ]
    decomposed = unicodedata.normalize("NFD", "caf\u00e9 na\u00efve")
    assert tokenize(decomposed).words == tokenize("caf\u00e9 na\u00efve").words


def test_scripts_without_spaces_give_one_token_per_character() -> None:
    tokens = tokenize("\u6771\u4eac\u90fd\u306e\u5929\u6c17 and Tokyo")
    assert tokens.words == [
        "\u6771",
        "\u4eac",
        "\u90fd",
        "\u306e",
        "\u5929",
        "\u6c17",
        "and",
        "tokyo",
    ]


def test_markdown_link_targets_and_html_blocks_are_dropped() -> None:
    text = "Read [the report](https://example.com/a-b) now <script>var x = 1;</script>today"
    assert tokenize(text).words == ["read", "the", "report", "now", "today"]
    tokens = tokenize(text)
    assert text[tokens.starts[-1] : tokens.ends[-1]] == "today"


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.characters(min_codepoint=0, max_codepoint=127, exclude_characters="<&]"),
        max_size=300,
    )
)
@example("0)\t")  # a list marker alone: no word on either path
def test_the_fast_ascii_path_splits_as_the_general_one(text: str) -> None:
    tokens = tokenize(text)
    # A trailing em space (not ASCII, not part of a word) sends the same text down the
    # general path; list markers ("1.", "0)") are left out by both.
    general = tokenize(text + "\u2003")
    assert tokens.words == general.words
    assert tokens.starts.tolist() == general.starts.tolist()
    assert tokens.ends.tolist() == general.ends.tolist()
    plain = [(m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+", text.lower())]
    assert set(zip(tokens.starts.tolist(), tokens.ends.tolist(), strict=True)) <= set(plain)


# -- markup that is not markup, list numbering, HTML and Markdown (what a reader sees) --

ELEMENTS = set(normalize._ELEMENTS)
BOOLEANS = set(normalize._BOOLEAN_ATTRIBUTES)
PLAIN_WORDS = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1,
            max_size=10),
    min_size=1,
    max_size=12,
)  # fmt: skip


def _reads_as_a_tag(words: list[str]) -> bool:
    """`<b>`, `<p hidden>`: a known element with valueless attributes HTML allows."""
    return words[0].lower() in ELEMENTS and all(w.lower() in BOOLEANS for w in words[1:])


@st.composite
def rendered(draw: st.DrawFn) -> tuple[list[str], str]:
    """Words a reader sees, rendered with angle brackets around plain text, numbered or
    lettered list lines, HTML elements and Markdown."""
    lines: list[str] = []
    seen: list[str] = []
    for number, words in enumerate(draw(st.lists(PLAIN_WORDS, min_size=1, max_size=6)), 1):
        style = draw(st.sampled_from(["brackets", "list", "html", "markdown", "plain"]))
        text = " ".join(words)
        if style == "brackets" and not _reads_as_a_tag(words):
            text = f"<{text}>"
        elif style == "list":
            marker = draw(
                st.sampled_from([f"{number}.", f"{number})", f"({number})", "a)", "b.", "iv.",
                                 "-", "*", "\u2022", "+"])
            )  # fmt: skip
            text = f"{draw(st.sampled_from(['', '  ', chr(9), '> ']))}{marker} {text}"
        elif style == "html":
            tag = draw(st.sampled_from(["b", "em", "li", "p", "span", "A", "td"]))
            attributes = draw(st.sampled_from(["", ' class="lead"', " hidden", " href=/x?a=1"]))
            text = f"<{tag}{attributes}>{text}</{tag}>"
        elif style == "markdown":
            text = draw(
                st.sampled_from([f"**{text}**", f"_{text}_", f"# {text}", f"`{text}`",
                                 f"[{text}](https://example.com/a_b)", f"![{text}](img.png)"])
            )  # fmt: skip
        lines.append(text)
        seen.extend(words)
    return seen, "\n".join(lines)


@settings(max_examples=400, deadline=None)
@given(rendered())
def test_every_word_a_reader_sees_survives_with_its_offsets(case: tuple[list[str], str]) -> None:
    words, text = case
    tokens = tokenize(text)
    assert tokens.words == [w.lower() for w in words]
    for word, start, end in zip(tokens.words, tokens.starts, tokens.ends, strict=True):
        assert text[start:end].lower() == word


def test_text_in_angle_brackets_is_text_unless_it_is_a_tag() -> None:
    text = "<Shearson Lehman Brothers Inc> bought <WY> and <A and W Brands Inc>"
    assert tokenize(text).words == [
        "shearson",
        "lehman",
        "brothers",
        "inc",
        "bought",
        "wy",
        "and",
        "a",
        "and",
        "w",
        "brands",
        "inc",
    ]
    html = '<A HREF="/x">link</a> <p hidden>kept</p> <br/> <!DOCTYPE html> <img src=x.png>'
    assert tokenize(html).words == ["link", "kept"]


def test_list_numbers_are_not_words_but_numbers_in_sentences_are() -> None:
    listed = "1. Prices rose\n2) sharply in\n(3) March\n iv. said\nb. the bank"
    assert tokenize(listed).words == [
        "prices",
        "rose",
        "sharply",
        "in",
        "march",
        "said",
        "the",
        "bank",
    ]
    assert tokenize("It rose 2. 5 more on line 3) here").words == (
        ["it", "rose", "2", "5", "more", "on", "line", "3", "here"]
    )
