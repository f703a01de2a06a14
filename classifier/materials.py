"""Main material of a head-attire article, read from its free-text description.

H&M descriptions name the material in the lead sentence, either after "in" ("Cap in
cotton twill") or before the product noun ("Paper straw hat"). Later clauses and
sentences describe parts (a faux fur pompom, a fleece lining, a cotton sweatband),
and a part's material is not the article's, so the rules read only the main phrase:

1. Skip leading collection tags ("Baby Exclusive.", "Kangol x H&M.") and keep the
   first real sentence.
2. Cut that sentence at the first clause that attaches a part or a minor fibre:
   "with" (but not "covered with"), "containing", "decorated", "featuring", "that",
   "which", "(" or ";".
3. Append later sentences that start with "Made of", "Made from" or "Made in", which
   name the material of the whole article.

Precedence on the main phrase, highest first:

1. Fabric kinds: ``straw``, ``felt``, ``leather``, ``fleece``. They beat any fibre
   because the fibre is what they are made of ("felted wool" is felt, "polyester
   fleece" is fleece). Two different fabric kinds in one phrase are a conflict, and
   the result is ``unknown``.
2. Fibres: ``wool``, ``cotton``, ``synthetic``, and fibres without a label (silk,
   linen, viscose, lyocell), which give ``unknown``. The first fibre named wins,
   because H&M lists fibres from the largest share down ("wool and nylon blend").
3. Construction: ``knit``, only when no fibre is named, because "rib-knit cashmere"
   is more precisely wool.
4. Anywhere in the text, the H&M note "The polyester content ... is recycled" gives
   ``synthetic`` when nothing above fired.

Only the labels in `TRUSTED_MATERIALS` were measured precise enough to train on.
docs/material-rules.md has the figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifier.taxonomy import MATERIAL

__all__ = [
    "MATERIAL_RULES",
    "TRUSTED_MATERIALS",
    "TRUST_MIN_PRECISION",
    "TRUST_MIN_PREDICTED",
    "MaterialMatch",
    "MaterialRule",
    "main_phrase",
    "material_from_description",
]

# A label is trusted for training when its rules reach TRUST_MIN_PRECISION on at least
# TRUST_MIN_PREDICTED rule predictions in the hand-labelled sample of 160 head-attire
# articles (tests/classifier/data/material_sample.csv), as printed by
# `python -m benchmarks.material_rules`. Leather, fleece and synthetic fire too rarely in
# that sample to be judged, so they are left out until a larger sample measures them.
TRUST_MIN_PRECISION = 0.9
TRUST_MIN_PREDICTED = 5
TRUSTED_MATERIALS: frozenset[str] = frozenset({"knit", "wool", "cotton", "straw", "felt"})

_FABRIC = "fabric"
_FIBRE = "fibre"
_CONSTRUCTION = "construction"
_NOTE = "note"

# "knit-look", "wool effect": the article imitates the material and is not made of it.
_NOT_IMITATION = r"(?![\s-]*(?:look|like|effect)\b)"


@dataclass(frozen=True)
class MaterialRule:
    """One pattern that names a material.

    ``material`` is a ``material`` label, or None for a fibre that has no label
    (silk, linen), which still counts as the named fibre. ``tier`` is "fabric",
    "fibre", "construction" or "note", highest precedence first.
    """

    name: str
    material: str | None
    tier: str
    pattern: re.Pattern[str]


def _rule(name: str, material: str | None, tier: str, pattern: str) -> MaterialRule:
    return MaterialRule(name, material, tier, re.compile(pattern, re.IGNORECASE))


MATERIAL_RULES: tuple[MaterialRule, ...] = (
    _rule("straw", "straw", _FABRIC, r"\b(?:straw|raffia|sea\s*grass|toquilla)\b"),
    _rule("felt", "felt", _FABRIC, r"\bfelt(?:ed)?\b" + _NOT_IMITATION),
    _rule("leather", "leather", _FABRIC, r"\b(?:leather|leatherette|suede|nubuck)\b"),
    # Real shearling is sheepskin with the wool left on, but faux shearling is a pile fabric.
    _rule("shearling", "leather", _FABRIC, r"(?<!faux )(?<!imitation )\bshearling\b"),
    _rule("fleece", "fleece", _FABRIC, r"\b(?:fleece|sherpa|pile)\b"),
    _rule("faux_shearling", "fleece", _FABRIC, r"\b(?:faux|imitation)\s+shearling\b"),
    _rule(
        "wool",
        "wool",
        _FIBRE,
        r"\b(?:wool|woollen|woolen|lambswool|merino|cashmere|mohair|alpaca|angora)\b"
        + _NOT_IMITATION,
    ),
    _rule("cotton", "cotton", _FIBRE, r"\b(?:cotton|denim)\b" + _NOT_IMITATION),
    _rule(
        "synthetic_fibre",
        "synthetic",
        _FIBRE,
        r"\b(?:polyester|polyamide|nylon|acrylic|elastane|spandex|polypropylene"
        r"|microfib(?:re|er))\b",
    ),
    _rule("faux_fur", "synthetic", _FIBRE, r"\b(?:faux|imitation|fake)\s+fur\b"),
    _rule(
        "unlabelled_fibre",
        None,
        _FIBRE,
        r"\b(?:silk|linen|viscose|modal|lyocell|tencel|hemp|ramie|bamboo)\b",
    ),
    _rule("knit", "knit", _CONSTRUCTION, r"\b(?:knit|knits|knitted|knitwear)\b" + _NOT_IMITATION),
    _rule("polyester_content_note", "synthetic", _NOTE, r"\bpolyester\s+content\b"),
)

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_PART_CLAUSE = re.compile(
    r"(?<!covered )\bwith\b|\b(?:containing|decorated|featuring|that|which)\b|[;(]",
    re.IGNORECASE,
)
_MADE_OF = re.compile(r"made\s+(?:of|from|in)\b", re.IGNORECASE)
_TAG_JOINERS = frozenset({"x", "&", "-", "|"})


@dataclass(frozen=True)
class MaterialMatch:
    """The material label derived from one description, and why.

    ``material`` is a ``material`` label. It is ``unknown`` when nothing fired, when
    the first fibre named has no label (rule ``unlabelled_fibre``) or when fabric
    kinds conflict. ``rule`` is the name of the `MaterialRule` that decided, or None
    when no rule decided. ``fired`` lists every rule that matched: those on the main
    phrase in text order, then the note rule. ``phrase`` is the main phrase that the
    fabric, fibre and construction rules searched.
    """

    material: str
    rule: str | None
    fired: tuple[str, ...]
    phrase: str

    @property
    def conflict(self) -> bool:
        """True when rules fired but none could decide."""
        return self.rule is None and bool(self.fired)


def _is_collection_tag(sentence: str) -> bool:
    words = sentence.rstrip(".!?").split()
    if not words or len(words) > 4:
        return False
    return all(word[0].isupper() or word.lower() in _TAG_JOINERS for word in words)


def main_phrase(text: str) -> str:
    """Return the part of a description that names the article's main material.

    See the module docstring for the steps. Returns "" for blank text.
    """
    sentences = [sentence.strip() for sentence in _SENTENCE_BREAK.split(text.strip())]
    sentences = [sentence for sentence in sentences if sentence]
    if not sentences:
        return ""

    lead = 0
    while lead < len(sentences) - 1 and _is_collection_tag(sentences[lead]):
        lead += 1

    cut = _PART_CLAUSE.search(sentences[lead])
    phrase = sentences[lead][: cut.start()] if cut else sentences[lead]
    phrase = phrase.strip().rstrip(".,")

    made_of = [s for s in sentences[lead + 1 :] if _MADE_OF.match(s)]
    return " ".join([phrase, *made_of]).strip()


def _first_hits(rules: tuple[MaterialRule, ...], text: str) -> list[tuple[int, MaterialRule]]:
    hits = []
    for rule in rules:
        found = rule.pattern.search(text)
        if found:
            hits.append((found.start(), rule))
    hits.sort(key=lambda hit: hit[0])
    return hits


def material_from_description(text: str | None) -> MaterialMatch:
    """Derive the main material label from a free-text description such as ``detail_desc``.

    Never raises: None, NaN or blank text gives ``unknown`` with no rule. The rules
    and their precedence are in the module docstring. Check ``rule`` and ``fired`` to
    see why a label was chosen, and use only labels in `TRUSTED_MATERIALS` as
    training targets.
    """
    if not isinstance(text, str) or not text.strip():
        # pandas reads an empty CSV cell as NaN, a float.
        return MaterialMatch(MATERIAL.fallback, None, (), "")

    phrase = main_phrase(text)
    phrase_rules = tuple(rule for rule in MATERIAL_RULES if rule.tier != _NOTE)
    note_rules = tuple(rule for rule in MATERIAL_RULES if rule.tier == _NOTE)
    phrase_hits = _first_hits(phrase_rules, phrase)
    note_hits = _first_hits(note_rules, text)
    fired = tuple(rule.name for _, rule in phrase_hits + note_hits)

    fabric_hits = [rule for _, rule in phrase_hits if rule.tier == _FABRIC]
    if len({rule.material for rule in fabric_hits}) > 1:
        return MaterialMatch(MATERIAL.fallback, None, fired, phrase)
    if fabric_hits:
        return _decided(fabric_hits[0], fired, phrase)

    for tier in (_FIBRE, _CONSTRUCTION):
        tier_hits = [rule for _, rule in phrase_hits if rule.tier == tier]
        if tier_hits:
            return _decided(tier_hits[0], fired, phrase)

    if note_hits:
        return _decided(note_hits[0][1], fired, phrase)
    return MaterialMatch(MATERIAL.fallback, None, fired, phrase)


def _decided(rule: MaterialRule, fired: tuple[str, ...], phrase: str) -> MaterialMatch:
    material = rule.material if rule.material is not None else MATERIAL.fallback
    return MaterialMatch(material, rule.name, fired, phrase)
