"""Label sets that the head-attire classifier predicts, and the maps from H&M catalog fields.

Four tasks, each a `LabelSet`:

- ``type``: what is worn on the head, or ``none`` for every other product.
- ``colour``: the H&M perceived master colour.
- ``pattern``: a coarse grouping of the H&M graphical appearance.
- ``material``: the main material, derived from the free-text description by
  `classifier.materials`.

A label's position in its `LabelSet` is the class index of the classifier output,
so reordering or renaming labels invalidates every trained artifact. Artifacts store
`label_sets_fingerprint()` and are checked against it when loaded.

The maps accept any string, ignore case and surrounding whitespace, and return the
task's fallback label (``none``, ``unknown``, ``other``) for blank or unmapped input,
because catalog fields are noisy and a new retailer value must not stop an import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "COLOUR",
    "HM_COLOURS",
    "HM_PATTERNS",
    "HM_PRODUCT_TYPES",
    "LABEL_SETS",
    "LANGUAGES",
    "MATERIAL",
    "PATTERN",
    "TYPE",
    "Label",
    "LabelSet",
    "Language",
    "ProductTypeMap",
    "colour_from_hm",
    "label_sets_fingerprint",
    "pattern_from_hm",
    "product_type_display",
    "type_from_product_type",
]

Language = Literal["en", "zh-CN"]
LANGUAGES: tuple[Language, ...] = ("en", "zh-CN")

_LABEL_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


@dataclass(frozen=True)
class Label:
    """One class of a task: the identifier and its display names.

    ``name`` is lowercase snake_case English and is what code, the database and
    artifacts store. ``en`` and ``zh_cn`` are for people only.
    """

    name: str
    en: str
    zh_cn: str


@dataclass(frozen=True)
class LabelSet:
    """The ordered labels of one task. A label's position is its class index.

    ``fallback`` is the label that the catalog maps return for blank or unmapped
    input. Raises ValueError on construction if a name is not snake_case, a name
    repeats, a display name is blank or ``fallback`` is not one of the names.
    """

    task: str
    labels: tuple[Label, ...]
    fallback: str
    _positions: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positions: dict[str, int] = {}
        for position, label in enumerate(self.labels):
            if not _LABEL_NAME.fullmatch(label.name):
                raise ValueError(
                    f"invalid label name {label.name!r} in task {self.task!r}: "
                    "use lowercase snake_case"
                )
            if label.name in positions:
                raise ValueError(f"duplicate label name {label.name!r} in task {self.task!r}")
            if not label.en.strip() or not label.zh_cn.strip():
                raise ValueError(
                    f"label {label.name!r} in task {self.task!r} needs both an English "
                    "and a zh-CN display name"
                )
            positions[label.name] = position
        if self.fallback not in positions:
            raise ValueError(
                f"fallback {self.fallback!r} of task {self.task!r} is not one of its labels"
            )
        # A frozen dataclass rejects attribute assignment, so use object.__setattr__.
        object.__setattr__(self, "_positions", MappingProxyType(positions))

    @property
    def names(self) -> tuple[str, ...]:
        """Label names in class-index order."""
        return tuple(label.name for label in self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def index(self, name: str) -> int:
        """Return the class index of ``name``.

        Raises ValueError naming the value and the valid names if ``name`` is not a
        label of this task. Names are matched exactly: map raw catalog values with
        the ``*_from_*`` functions first.
        """
        position = self._positions.get(name)
        if position is None:
            raise ValueError(
                f"unknown {self.task} label {name!r}: expected one of {', '.join(self.names)}"
            )
        return position

    def display(self, name: str, language: Language = "en") -> str:
        """Return the display name of label ``name`` in ``language`` ("en" or "zh-CN").

        Raises ValueError for an unknown label name or language.
        """
        label = self.labels[self.index(name)]
        if language == "en":
            return label.en
        if language == "zh-CN":
            return label.zh_cn
        raise ValueError(
            f"unsupported display language {language!r}: expected one of {', '.join(LANGUAGES)}"
        )


TYPE = LabelSet(
    task="type",
    labels=(
        Label("beanie", "Beanie", "毛线帽"),
        Label("cap", "Cap", "鸭舌帽"),
        # Fedora, felt, straw, bucket and sun hats: anything with a brim all round.
        Label("brimmed_hat", "Brimmed hat", "宽檐帽"),
        Label("hair_band", "Hair band", "发带"),
        Label("scarf", "Scarf", "围巾"),
        Label("none", "Not head attire", "非头饰"),
    ),
    fallback="none",
)

COLOUR = LabelSet(
    task="colour",
    labels=(
        Label("black", "Black", "黑色"),
        Label("white", "White", "白色"),
        Label("grey", "Grey", "灰色"),
        Label("beige", "Beige", "米色"),
        Label("brown", "Brown", "棕色"),
        Label("mole", "Mole", "灰褐色"),
        Label("red", "Red", "红色"),
        Label("orange", "Orange", "橙色"),
        Label("yellow", "Yellow", "黄色"),
        Label("yellowish_green", "Yellowish green", "黄绿色"),
        Label("green", "Green", "绿色"),
        Label("khaki_green", "Khaki green", "卡其绿"),
        Label("turquoise", "Turquoise", "绿松石色"),
        Label("blue", "Blue", "蓝色"),
        Label("lilac_purple", "Lilac purple", "淡紫色"),
        Label("pink", "Pink", "粉色"),
        Label("metal", "Metal", "金属色"),
        Label("unknown", "Unknown", "未知"),
    ),
    fallback="unknown",
)

PATTERN = LabelSet(
    task="pattern",
    labels=(
        Label("solid", "Solid", "纯色"),
        Label("stripe", "Stripe", "条纹"),
        Label("check", "Check", "格纹"),
        Label("dots", "Dots", "波点"),
        Label("all_over_print", "All-over print", "满印"),
        Label("melange", "Melange", "混色"),
        # A motif in one place: a print, an appliqué or an embroidery.
        Label("placement_print", "Placement print", "定位印花"),
        Label("other", "Other", "其他"),
    ),
    fallback="other",
)

MATERIAL = LabelSet(
    task="material",
    labels=(
        # Knitted, with no main fibre named. A named main fibre takes precedence.
        Label("knit", "Knit", "针织"),
        # Sheep's wool and the other animal hair fibres: cashmere, mohair, alpaca.
        Label("wool", "Wool", "羊毛"),
        Label("cotton", "Cotton", "棉"),
        Label("straw", "Straw", "草编"),
        Label("felt", "Felt", "毛毡"),
        Label("fleece", "Fleece", "抓绒"),
        # Leather, suede and their imitations.
        Label("leather", "Leather", "皮革"),
        # Petroleum-based fibres (polyester, polyamide, acrylic) and faux fur.
        Label("synthetic", "Synthetic", "合成纤维"),
        Label("unknown", "Unknown", "未知"),
    ),
    fallback="unknown",
)

LABEL_SETS: Mapping[str, LabelSet] = MappingProxyType(
    {label_set.task: label_set for label_set in (TYPE, COLOUR, PATTERN, MATERIAL)}
)


def _normalise_key(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class ProductTypeMap:
    """Catalog product-type names mapped to ``type`` labels.

    Keys match ignoring case and runs of whitespace. A name that is not a key maps
    to ``none``. Extend a map for another catalog without editing this module::

        shop_types = HM_PRODUCT_TYPES.extended({"Beret": "beanie", "Sun visor": "cap"})
        type_from_product_type("Beret", mapping=shop_types)  # "beanie"

    Raises ValueError on construction if a value is not a ``type`` label.
    """

    entries: Mapping[str, str]
    _lookup: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for product_type_name, type_name in self.entries.items():
            if type_name not in TYPE:
                raise ValueError(
                    f"product type {product_type_name!r} maps to unknown type label "
                    f"{type_name!r}: expected one of {', '.join(TYPE.names)}"
                )
            lookup[_normalise_key(product_type_name)] = type_name
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))
        object.__setattr__(self, "_lookup", MappingProxyType(lookup))

    def extended(self, extra: Mapping[str, str]) -> ProductTypeMap:
        """Return a new map with ``extra`` added. On a clash the entry of ``extra`` wins."""
        return ProductTypeMap({**self.entries, **extra})

    def type_of(self, product_type_name: str | None) -> str:
        """Return the ``type`` label of a product-type name, or ``none`` if blank or unmapped."""
        if not isinstance(product_type_name, str):
            # pandas reads an empty CSV cell as NaN, a float.
            return TYPE.fallback
        return self._lookup.get(_normalise_key(product_type_name), TYPE.fallback)


# Head-attire values of H&M `product_type_name`. Every other product type is `none`,
# including "Hair clip", "Hair ties" and "Hair string", which hold the hair in place
# and are not worn round the head.
HM_PRODUCT_TYPES = ProductTypeMap(
    {
        "Scarf": "scarf",
        "Hair/alice band": "hair_band",
        "Hairband": "hair_band",
        "Alice band": "hair_band",
        "Hat/beanie": "beanie",
        "Beanie": "beanie",
        "Cap/peaked": "cap",
        "Cap": "cap",
        "Hat/brim": "brimmed_hat",
        "Felt hat": "brimmed_hat",
        "Straw hat": "brimmed_hat",
        "Bucket hat": "brimmed_hat",
    }
)

# H&M `perceived_colour_master_name`. "Unknown" and "undefined" are both H&M
# placeholders for a missing colour.
HM_COLOURS: Mapping[str, str] = MappingProxyType(
    {
        "Black": "black",
        "White": "white",
        "Grey": "grey",
        "Beige": "beige",
        "Brown": "brown",
        "Mole": "mole",
        "Red": "red",
        "Orange": "orange",
        "Yellow": "yellow",
        "Yellowish Green": "yellowish_green",
        "Green": "green",
        "Khaki green": "khaki_green",
        "Turquoise": "turquoise",
        "Blue": "blue",
        "Lilac Purple": "lilac_purple",
        "Pink": "pink",
        "Metal": "metal",
        "Unknown": "unknown",
        "undefined": "unknown",
    }
)

# H&M `graphical_appearance_name`. Appliqué and embroidery count as placement prints
# because they are motifs in one place. Values that are neither a print nor a stripe,
# check or dot pattern map to `other`: surface structures (denim, lace, mesh, sequins,
# washes), woven or knitted motifs (jacquard) and colour blocking.
HM_PATTERNS: Mapping[str, str] = MappingProxyType(
    {
        "Solid": "solid",
        "Stripe": "stripe",
        "Check": "check",
        "Argyle": "check",
        "Dot": "dots",
        "All over pattern": "all_over_print",
        "Melange": "melange",
        "Neps": "melange",
        "Placement print": "placement_print",
        "Front print": "placement_print",
        "Embroidery": "placement_print",
        "Application/3D": "placement_print",
        "Jacquard": "other",
        "Colour blocking": "other",
        "Contrast": "other",
        "Mixed solid/pattern": "other",
        "Other pattern": "other",
        "Other structure": "other",
        "Denim": "other",
        "Chambray": "other",
        "Slub": "other",
        "Lace": "other",
        "Mesh": "other",
        "Transparent": "other",
        "Treatment": "other",
        "Sequin": "other",
        "Metallic": "other",
        "Glittering/Metallic": "other",
        "Unknown": "other",
    }
)

_COLOUR_LOOKUP = {_normalise_key(name): label for name, label in HM_COLOURS.items()}
_PATTERN_LOOKUP = {_normalise_key(name): label for name, label in HM_PATTERNS.items()}


def type_from_product_type(
    product_type_name: str | None, *, mapping: ProductTypeMap = HM_PRODUCT_TYPES
) -> str:
    """Map a catalog ``product_type_name`` to a ``type`` label, ``none`` if unmapped."""
    return mapping.type_of(product_type_name)


def colour_from_hm(perceived_colour_master_name: str | None) -> str:
    """Map an H&M ``perceived_colour_master_name`` to a ``colour`` label.

    Returns ``unknown`` for a blank or unmapped name.
    """
    if not isinstance(perceived_colour_master_name, str):
        return COLOUR.fallback
    return _COLOUR_LOOKUP.get(_normalise_key(perceived_colour_master_name), COLOUR.fallback)


def pattern_from_hm(graphical_appearance_name: str | None) -> str:
    """Map an H&M ``graphical_appearance_name`` to a ``pattern`` label, ``other`` if unmapped."""
    if not isinstance(graphical_appearance_name, str):
        return PATTERN.fallback
    return _PATTERN_LOOKUP.get(_normalise_key(graphical_appearance_name), PATTERN.fallback)


def label_sets_fingerprint() -> dict[str, list[str]]:
    """Return each task's label names in class-index order, keyed by task.

    A trained artifact stores this value. If the stored value differs from the current
    one, the artifact's class indices mean other labels and it must be retrained.
    """
    return {task: list(label_set.names) for task, label_set in LABEL_SETS.items()}


# Chinese names of the H&M product types outside head attire, for the text of
# recommendation reasons. With the head-attire types, these 66 cover 99.7% of
# the 20,772 H&M articles they were checked on; other types keep their name.
_PRODUCT_TYPE_ZH: dict[str, str] = {
    "trousers": "长裤",
    "dress": "连衣裙",
    "sweater": "毛衣",
    "t-shirt": "T 恤",
    "top": "上衣",
    "blouse": "女式衬衫",
    "bra": "文胸",
    "vest top": "背心",
    "skirt": "半身裙",
    "shorts": "短裤",
    "underwear bottom": "内裤",
    "shirt": "衬衫",
    "jacket": "夹克",
    "swimwear bottom": "泳裤",
    "bikini top": "比基尼上衣",
    "hoodie": "连帽衫",
    "leggings/tights": "打底裤",
    "socks": "袜子",
    "cardigan": "开衫",
    "blazer": "西装外套",
    "bag": "包",
    "earring": "耳环",
    "earrings": "耳环",
    "boots": "靴子",
    "jumpsuit/playsuit": "连体衣",
    "swimsuit": "连体泳衣",
    "pyjama set": "睡衣套装",
    "belt": "腰带",
    "necklace": "项链",
    "sneakers": "运动鞋",
    "other accessories": "其他配饰",
    "underwear tights": "连裤袜",
    "sandals": "凉鞋",
    "bodysuit": "紧身连体衣",
    "sunglasses": "太阳镜",
    "coat": "大衣",
    "underwear body": "连体内衣",
    "pyjama bottom": "睡裤",
    "hair string": "发绳",
    "polo shirt": "Polo 衫",
    "heeled sandals": "高跟凉鞋",
    "ring": "戒指",
    "hair clip": "发夹",
    "garment set": "服装套装",
    "ballerinas": "芭蕾平底鞋",
    "flat shoe": "平底鞋",
    "gloves": "手套",
    "night gown": "睡裙",
    "wedge": "坡跟鞋",
    "hair ties": "发圈",
    "sarong": "纱笼",
    "other shoe": "其他鞋",
    "dungarees": "背带裤",
    "robe": "浴袍",
    "pumps": "浅口高跟鞋",
    "slippers": "拖鞋",
    "flip flop": "人字拖",
    "outdoor waistcoat": "户外马甲",
    "pyjama jumpsuit/playsuit": "连体睡衣",
    "kids underwear top": "儿童内衣上衣",
    "wallet": "钱包",
    "underwear set": "内衣套装",
    "unknown": "其他商品",
    "tie": "领带",
    "bracelet": "手链",
    "watch": "手表",
}


def product_type_display(product_type_name: str, language: Language = "en") -> str:
    """Return a catalog product type as shown in ``language``.

    Head-attire types give their ``type`` label's display name; other known
    H&M types have a Chinese name; anything else keeps the catalog's text.
    """
    if language == "en":
        return product_type_name
    head_type = type_from_product_type(product_type_name)
    if head_type != TYPE.fallback:
        return TYPE.display(head_type, language)
    return _PRODUCT_TYPE_ZH.get(_normalise_key(product_type_name), product_type_name)
