"""Text normalisation shared by indexing and checking, with a map back to the original.

The same function runs on a work when it is indexed and on every text checked against
the index, so formatting can never make the two sides disagree:
- HTML: tags of known elements (well formed: a name HTML defines, attributes as HTML
  writes them), script/style content, comments and doctypes become word breaks, and
  entities are decoded. Any other text between angle brackets is text: wire copy writes
  `<Shearson Lehman Brothers Inc>` and tickers as `<WY>`, and a quote wrapped that way
  must still be found;
- Markdown: link targets are dropped (the markers themselves are punctuation);
- list markers at the start of a line (`1.`, `2)`, `(3)`, `a)`, `iv.`; bullets and
  dashes are punctuation anyway) are not words, so numbering a quote's lines hides nothing;
- invisible characters (zero-width, soft hyphen, word joiners, BOM, variation selectors)
  are removed, so a word split by one is still one word;
- words are runs of letters and digits (with combining marks), Unicode NFKC, casefolded;
  punctuation separates words and is otherwise ignored, which is what makes curly
  quotes, dashes and ellipses match their ASCII forms;
- scripts written without spaces (CJK, Thai, Lao, Khmer...) give one token per character,
  so their fingerprints are character n-grams.
Every token keeps its `[start, end)` character offsets in the original text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Scripts written without spaces between words: each character is a token.
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
)
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# Capturing patterns: split() returns gaps and words alternately, in one C pass.
_TOKEN = re.compile(rf"([{_UNSPACED}]|(?:[^\W_{_UNSPACED}][{_COMBINING}]*)+)")
# Faster patterns that split exactly as _TOKEN does on the texts they are used for.
_PLAIN_TOKEN = re.compile(r"([^\W_]+)")
_FULL_TOKEN_CHARS = frozenset(
    chr(c)
    for a, b in (
        (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF),
        (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x0300, 0x036F),
        (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),
    )
    for c in range(a, b + 1)
)  # fmt: skip

_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff"
)


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Elements HTML defines (and a few it used to): only their tags are markup.
_ELEMENTS = _names(
    "a abbr acronym address area article aside audio b base bdi bdo big blockquote body "
    "br button canvas caption center cite code col colgroup data datalist dd del details "
    "dfn dialog div dl dt em embed fieldset figcaption figure font footer form frame "
    "frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe img input ins kbd "
    "label legend li link main map mark menu meta meter nav nobr noscript object ol "
    "optgroup option output p param picture pre progress q rp rt ruby s samp script "
    "section select slot small source span strike strong style sub summary sup svg table "
    "tbody td template textarea tfoot th thead time title tr track tt u ul var video wbr"
)
# Attributes HTML allows without a value; any other attribute must have one, which is
# what tells `<a href="x">` from `<A and W Brands Inc>`.
_BOOLEAN_ATTRIBUTES = _names(
    "allowfullscreen async autofocus autoplay checked controls default defer disabled "
    "download formnovalidate hidden inert ismap itemscope loop multiple muted nomodule "
    "novalidate open playsinline readonly required reversed selected nowrap"
)
_NAME = "|".join(sorted(_ELEMENTS, key=len, reverse=True))
_ATTRIBUTE = (
    r"[a-z_:][-a-z0-9_:.]{0,60}\s*=\s*"  # name=value: quoted, or unquoted as HTML allows
    r"(?:\"[^\"]{0,2000}\"|'[^']{0,2000}'|[^\s\"'<>=`][^\s\"'<>`]{0,2000})"
    rf"|(?:{'|'.join(sorted(_BOOLEAN_ATTRIBUTES))})(?=[\s/>])"
)
_TAG = rf"<(?:{_NAME})(?:\s+(?:{_ATTRIBUTE}))*\s*/?>|</(?:{_NAME})\s*>"
_ROMAN = "i|ii|iii|iv|v|vi|vii|viii|ix|x|xi|xii"
# A list item's number or letter at the start of a line (after any blockquote marks).
_MARKER = rf"^[ \t>]*(?:\((?:\d{{1,3}}|[a-z]|{_ROMAN})\)|(?:\d{{1,3}}|[a-z]|{_ROMAN})[.)])(?=[ \t])"
_EDITS = re.compile(
    r"(?P<block><(script|style)\b[^<>]{0,2000}>.*?</\2\s*>|<!--.*?-->|<!doctype[^<>]{0,200}>)"
    rf"|(?P<tag>{_TAG})"
    rf"|(?P<marker>{_MARKER})"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});)"
    rf"|(?P<invisible>[{_INVISIBLE}]+)"
    r"|(?P<link>\]\([^()\s]{0,2000}\))",
    re.DOTALL | re.IGNORECASE | re.MULTILINE,
)
_QUICK_CHECK = re.compile(rf"[<&\]{_INVISIBLE}]")
# Checks for list markers that scan for line breaks first (a literal prefix: fast).
_FIRST_LINE_MARKER = re.compile(_MARKER, re.IGNORECASE)
_LINE_MARKER = re.compile("\n" + _MARKER[1:], re.IGNORECASE)

Offsets = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Tokens:
    """Normalised words of a text and where each one is in the original."""

    words: list[str]
    starts: Offsets
    ends: Offsets

    def __len__(self) -> int:
        return len(self.words)


def tokenize(text: str) -> Tokens:
    cleaned, start_map, end_map = _clean(text)
    source = cleaned.lower()
    if len(source) != len(cleaned):  # a few characters lowercase to two: keep offsets
        source = cleaned
    fold = source is cleaned
    if source.isascii():
        words = source.translate(_ASCII_SEPARATORS).split()  # the runs of [a-z0-9]
        starts, ends = _ascii_offsets(source)
    else:
        chars = set(source)
        pattern = _PLAIN_TOKEN if chars.isdisjoint(_FULL_TOKEN_CHARS) else _TOKEN
        fold = fold or any(_in_words(c) for c in chars if not c.isascii())
        parts: list[str] = pattern.split(source)
        words = parts[1::2]
        ends = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)))[1::2]
        starts = ends - np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    if fold:
        words = [_fold(word) for word in words]
    if start_map is not None and end_map is not None and words:
        starts = start_map[starts]
        ends = end_map[ends - 1]
    return Tokens(words, starts, ends)


_ASCII_WORD_BYTES = np.zeros(256, dtype=np.int8)
_ASCII_WORD_BYTES[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)] = 1


# Every ASCII character but [a-z0-9] to a space: splitting then gives the words (about
# twice as fast as finding them with a regex).
_ASCII_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not _ASCII_WORD_BYTES[c]})


def _ascii_offsets(source: str) -> tuple[Offsets, Offsets]:
    """Where the runs of [a-z0-9] start and end, found on the bytes (the common case)."""
    inside = np.zeros(len(source) + 2, dtype=np.int8)  # a non-word byte either side
    inside[1:-1] = _ASCII_WORD_BYTES[np.frombuffer(source.encode("ascii"), dtype=np.uint8)]
    edges = np.flatnonzero(inside[1:] != inside[:-1])
    return edges[0::2], edges[1::2]


def _in_words(char: str) -> bool:
    """A non-ASCII character that can be part of a word (so words need NFKC)."""
    return char.isalnum() or unicodedata.combining(char) != 0


def _fold(word: str) -> str:
    if word.isascii():
        return word.lower()
    # NFKC again after casefolding: casefolding can undo composition (Unicode's
    # NFKC_Casefold does the same).
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold())


def visible_text(text: str) -> tuple[str, Offsets | None, Offsets | None]:
    """The text a reader sees (markup, list markers and invisible characters removed),
    and where each of its characters starts and ends in `text` (None: unchanged)."""
    return _clean(text)


def _clean(text: str) -> tuple[str, Offsets | None, Offsets | None]:
    """Apply the edits; map each cleaned character to its original start and end."""
    if text.isascii():
        markup = "<" in text or "&" in text or "](" in text
    else:
        markup = _QUICK_CHECK.search(text) is not None
    if not markup and not _FIRST_LINE_MARKER.match(text) and not _LINE_MARKER.search(text):
        return text, None, None
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    kept_from = 0
    for match in _EDITS.finditer(text):
        a, b = match.span()
        if match.lastgroup == "link" or match.lastgroup == "entity":
            # The `]` of a link and an entity's decoded text stay; the rest goes.
            replacement = "]" if match.lastgroup == "link" else html.unescape(match.group())
        elif match.lastgroup == "invisible":
            replacement = ""
        else:
            replacement = " "
        pieces.append(text[kept_from:a])
        starts.extend(range(kept_from, a))
        ends.extend(range(kept_from + 1, a + 1))
        pieces.append(replacement)
        starts.extend([a] * len(replacement))
        ends.extend([b] * len(replacement))
        kept_from = b
    if kept_from == 0 and not pieces:
        return text, None, None
    pieces.append(text[kept_from:])
    starts.extend(range(kept_from, len(text)))
    ends.extend(range(kept_from + 1, len(text) + 1))
    return (
        "".join(pieces),
        np.asarray(starts, dtype=np.int64),
        np.asarray(ends, dtype=np.int64),
    )
