"""Normalisation: formatting noise never changes the words, and every word's offsets
point back at it in the original text."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

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
def test_the_fast_ascii_path_splits_as_the_general_one(text: str) -> None:
    tokens = tokenize(text)
    general = [(m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+", text.lower())]
    assert list(zip(tokens.starts.tolist(), tokens.ends.tolist(), strict=True)) == general
    assert tokens.words == [text[a:b].lower() for a, b in general]
