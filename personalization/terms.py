"""Protected terms: Scenecart's maintained list and the matching that finds its terms (and a
merchant's own) in any text.

Matching works on folded text (NFKC, zero-width and bidi controls dropped, Latin accents
dropped, casefolded): whole words and phrases only, with or without separators between the
words of a term ("Spider Man", "spider-man", "SpiderMan"), an optional plural or possessive
"s", and light leetspeak ("P1kachu", "$pider-Man"). Words that are ordinary English as well as
marks ("apple", "jordan", "marvel") are listed as ambiguous and only match in the phrases
listed with them ("Apple Watch", "Air Jordan", "Marvel Comics"). The list compiles to one regular
expression, once per process; a merchant's own terms to one more, cached per term list.

No models and no queries: ``personalization.models`` checks a merchant's lists with it, and
``personalization.content_policy`` applies it to what a video would show.
"""

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

TERMS_FILE = Path(__file__).resolve().parent / "data" / "protected_terms.txt"
KINDS = ("character", "title", "mark")
OWN = "own"  # the kind of a merchant's own extra terms

REFUSED_BY_SCENECART = "Scenecart does not render protected characters or marks."

# Characters that may stand between the words of a term ("spider-man", "spider man",
# "spider_man", "spider.man", "spider'man"): spaces, dashes, dots, apostrophes, slashes.
# Not commas or semicolons: "iron, man-made fibre" is two thoughts, not Iron Man.
_SEPARATOR = r"[\s\-\u2010-\u2015_.\u00b7'\u2018\u2019/\u2044]"
# At most this many separators between two words, so a term never spans a sentence.
_GAP = 3
# Light leetspeak: the look-alike digits and signs people use to slip a name past a filter.
# Applied to the term's letters only; a term's own digits ("R2-D2") stay digits.
_LEET = {
    "a": "a4@",
    "e": "e3",
    "i": "i1!|",
    "l": "l1|",
    "o": "o0",
    "s": "s5$",
    "t": "t7",
}
# "&" in a term also matches "and" and "+": "Dolce and Gabbana", "M+M's".
_AMPERSAND = r"(?:&|and|\+)"
# Whole words only, never inside a longer word or number: "marvelous" is not Marvel,
# "legroom" not Lego.
_BEFORE = r"(?<![^\W_])"
_AFTER = r"(?![^\W_])"
# A plural or possessive ending: "Barbies", "Elsa's" (for the phrases that name her).
_PLURAL = r"(?:['\u2019]?s)?"
_TOKEN = re.compile(r"&|[^\W_]+")


@dataclass(frozen=True, slots=True)
class ProtectedTerm:
    term: str  # as the list (or the merchant) spells it: "Spider-Man"
    kind: str  # character, title, mark, or OWN
    owner: str  # who it belongs to: "Marvel, Disney"; the shop's name for its own terms
    family: str = ""  # the ambiguous word a phrase stands for: "Apple" for "Apple Watch"

    @property
    def key(self) -> str:
        return term_key(self.term)

    @property
    def reason(self) -> str:
        if self.kind == OWN:
            possessive = f"{self.owner}'" if self.owner.endswith("s") else f"{self.owner}'s"
            return (
                f"is on {possessive} own list of protected terms (its content policy); "
                "this shop does not render it."
            )
        return f"is a protected {self.kind} ({self.owner}); {REFUSED_BY_SCENECART}"


@dataclass(frozen=True, slots=True)
class Found:
    term: ProtectedTerm
    written: str  # the text as the merchant wrote it: "spiderman"
    start: int


@dataclass(frozen=True, slots=True)
class MaintainedList:
    terms: tuple[ProtectedTerm, ...]
    ambiguous: dict[str, str]  # key of an ambiguous word -> the word ("jordan" -> "Jordan")
    keys: frozenset[str]  # of every term


# --- folding and patterns -----------------------------------------------------------------


def fold(text: str) -> tuple[str, str, list[int]]:
    """``text`` as matching sees it: ``(shown, folded, where)``. ``shown`` is the NFKC form
    (what a refusal quotes), ``folded`` the matching form and ``where[i]`` the index in
    ``shown`` of ``folded[i]``.

    Zero-width characters, soft hyphens and bidi controls are dropped: they hide a word from a
    reviewer, not from a model. Accents are dropped from Latin letters only ("Pokémon" is
    "pokemon"); other scripts keep their marks, whose loss would merge different words.
    """
    shown = unicodedata.normalize("NFKC", text)
    folded: list[str] = []
    where: list[int] = []
    for index, char in enumerate(shown):
        if unicodedata.category(char) == "Cf":
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        if decomposed[:1].isascii():
            char = "".join(part for part in decomposed if not unicodedata.combining(part))
        for part in char.casefold():
            folded.append(part)
            where.append(index)
    return shown, "".join(folded), where


def term_key(term: str) -> str:
    """What makes two spellings the same term: its folded words, run together
    ("Spider-Man", "spider man" and "SPIDERMAN" are all ``spiderman``)."""
    return "".join(_TOKEN.findall(fold(term)[1]))


def _letter(char: str) -> str:
    alternatives = _LEET.get(char)
    if alternatives is None:
        return re.escape(char)
    return "[" + "".join(re.escape(a) for a in alternatives) + "]"


def term_atoms(term: str) -> list[str]:
    """One term as a list of small regular expressions (no capturing groups), one per letter
    and one per gap between its words. A gap takes up to ``_GAP`` separators (or none) and the
    term's own punctuation there, so "Monsters, Inc." still matches as written."""
    folded = fold(term)[1]
    tokens = list(_TOKEN.finditer(folded))
    if not tokens:
        raise ValueError(f"{term!r} has no letters or digits to match.")
    atoms: list[str] = []
    for index, token in enumerate(tokens):
        word = token.group()
        if index:
            between = folded[tokens[index - 1].end() : token.start()]
            own = "".join(re.escape(c) for c in sorted(set(between)) if not c.isspace())
            gap = f"(?:{_SEPARATOR}|[{own}])" if own else _SEPARATOR
            atoms.append(f"{gap}{{0,{_GAP}}}")
        if word == "&":
            atoms.append(_AMPERSAND)
        else:
            atoms.extend(_letter(c) for c in word)
    return atoms


@dataclass
class _Node:
    children: dict[str, "_Node"] = field(default_factory=dict)
    term: int | None = None  # index of the term that ends here


class TermMatcher:
    """Many terms compiled into one regular expression shaped as a trie of their letters.

    A plain alternation of a thousand terms makes the regex engine try every term at every
    position (half a second for a long description); the trie shares prefixes, so at each
    position only the few branches whose first letter fits are followed. Where a term ends, an
    empty capturing group marks it, so the group that took part in a match says which term it
    was. Longer continuations come before a term's end, so at one place in the text the longer
    term wins ("Spider-Man" over a shorter "Spider" if both were listed).
    """

    def __init__(self, terms: Iterable[ProtectedTerm]) -> None:
        self.terms: list[ProtectedTerm] = []
        root = _Node()
        for term in terms:
            node = root
            for atom in term_atoms(term.term):
                node = node.children.setdefault(atom, _Node())
            if node.term is None:  # the same spelling twice: the first one listed names it
                node.term = len(self.terms)
                self.terms.append(term)
        self.group_terms: dict[int, int] = {}
        body = self._emit(root)
        self.regex = re.compile(f"{_BEFORE}{body}") if self.terms else None

    def _emit(self, node: _Node) -> str:
        branches = [atom + self._emit(child) for atom, child in node.children.items()]
        if node.term is not None:
            self.group_terms[len(self.group_terms) + 1] = node.term
            branches.append(f"(){_PLURAL}{_AFTER}")
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    def finditer(self, text: str) -> Iterator[Found]:
        if self.regex is None or not text:
            return
        shown, folded, where = fold(text)
        for match in self.regex.finditer(folded):
            start, end = match.span()
            written = shown[where[start] : where[end - 1] + 1]
            yield Found(
                term=self.terms[self.group_terms[match.lastindex or 0]],
                # Without the invisible characters that hid it, so the merchant can read it.
                written="".join(c for c in written if unicodedata.category(c) != "Cf"),
                start=start,
            )


# --- the maintained list --------------------------------------------------------------------


def parse_terms(lines: Iterable[str], *, source: str = TERMS_FILE.name) -> MaintainedList:
    """The maintained list from its text (format in the file's header). A term listed twice,
    a term before any group or a group of an unknown kind is an error naming the line."""
    terms: list[ProtectedTerm] = []
    ambiguous: dict[str, str] = {}
    seen: dict[str, int] = {}
    kind = owner = ""

    def add(term: str, number: int, family: str = "") -> None:
        key = term_key(term)
        if not key:
            raise ValueError(f"{source} line {number}: {term!r} has no letters or digits.")
        if key in seen:
            raise ValueError(
                f"{source} line {number}: {term!r} is already listed (line {seen[key]})."
            )
        seen[key] = number
        terms.append(ProtectedTerm(term=term, kind=kind, owner=owner, family=family))

    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line.startswith("## "):
            kind, _, owner = (part.strip() for part in line[3:].partition(":"))
            if kind not in KINDS or not owner:
                raise ValueError(
                    f"{source} line {number}: a group is '## <kind>: <owner>' with a kind of "
                    f"{', '.join(KINDS)}; got {line!r}."
                )
            continue
        if not line or line.startswith("#"):
            continue
        if not kind:
            raise ValueError(f"{source} line {number}: {line!r} comes before any '## ' group.")
        word, has_phrases, phrases = (part.strip() for part in line.partition("="))
        if not has_phrases:
            add(word, number)
            continue
        # The ambiguous word itself is never matched, but it is reserved: listing it plain
        # elsewhere would be a contradiction.
        key = term_key(word)
        if key in seen:
            raise ValueError(
                f"{source} line {number}: {word!r} is already listed (line {seen[key]})."
            )
        seen[key] = number
        ambiguous[key] = word
        for phrase in (p.strip() for p in phrases.split(",")):
            if phrase:
                add(phrase, number, family=word)
    return MaintainedList(
        terms=tuple(terms), ambiguous=ambiguous, keys=frozenset(term.key for term in terms)
    )


@cache
def maintained_list() -> MaintainedList:
    with TERMS_FILE.open(encoding="utf-8") as handle:
        return parse_terms(handle)


@cache
def maintained_matcher() -> TermMatcher:
    return TermMatcher(maintained_list().terms)


@lru_cache(maxsize=512)
def own_matcher(terms: tuple[str, ...], owner: str) -> TermMatcher:
    return TermMatcher(ProtectedTerm(term=t, kind=OWN, owner=owner) for t in terms)


# --- a merchant's own lists ---------------------------------------------------------------------


def term_lines(text: str) -> list[str]:
    """The terms of a merchant's list: one per line, blank lines and ``#`` comments skipped,
    each term once (by ``term_key``), in the merchant's order and spelling."""
    terms: list[str] = []
    keys: set[str] = set()
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = term_key(line)
        if key and key not in keys:  # a line of punctuation names nothing
            keys.add(key)
            terms.append(line)
    return terms


def extra_term_problem(term: str) -> str:
    """Why ``term`` cannot be one of a merchant's own terms, or "". One or two characters would
    refuse half the catalog ("A", "XL")."""
    key = term_key(term)
    if len(key) < 3 or not any(c.isalpha() for c in key):
        return f"'{term}' is too short to refuse: use at least 3 letters or digits, one a letter."
    return ""


def allowed_term_problem(term: str) -> str:
    """Why ``term`` cannot be allowed, or "": only terms of the maintained list (or an ambiguous
    word, which allows all of its phrases) can be, so a typo does not silently allow nothing."""
    maintained = maintained_list()
    key = term_key(term)
    if key in maintained.keys or key in maintained.ambiguous:
        return ""
    return (
        f"'{term}' is not on Scenecart's list of protected terms, so there is nothing to allow "
        "(check the spelling)."
    )
