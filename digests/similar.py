"""Near-duplicate detection: the same wire story on two sites, the same sentence twice.

Word shingles and containment (overlap / smaller set) rather than plain Jaccard, because a
syndicated copy is often the original plus or minus a paragraph. An inverted index over
shingles keeps grouping near-linear in the number of texts instead of comparing all pairs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

_WORD = re.compile(r"\w+")
_SHINGLE = 4
_PREFIX_WORDS = 250  # the top of a story identifies it; the tails of copies differ most


def shingles(
    text: str, size: int = _SHINGLE, *, limit: int | None = _PREFIX_WORDS
) -> frozenset[int]:
    """Hashed word n-grams of (the start of) a text, case-insensitive."""
    tokens = _WORD.findall(text.lower())[:limit]
    if len(tokens) < size:
        return frozenset([hash(" ".join(tokens))]) if tokens else frozenset()
    return frozenset(hash(" ".join(tokens[i : i + size])) for i in range(len(tokens) - size + 1))


def near_duplicate(a: str, b: str, *, threshold: float = 0.6) -> bool:
    """True when two short texts (sentences) say nearly the same words."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return False
    return len(wa & wb) / min(len(wa), len(wb)) >= threshold


def group(texts: Sequence[str], *, threshold: float = 0.5) -> list[list[int]]:
    """Cluster indices of texts that are near-duplicates of each other (order kept)."""
    sets = [shingles(t) for t in texts]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        overlaps: dict[int, int] = defaultdict(int)
        for h in s:
            for j in index[h]:
                overlaps[j] += 1
            index[h].append(i)
        for j, shared in overlaps.items():
            if shared / max(1, min(len(s), len(sets[j]))) >= threshold:
                parent[find(i)] = find(j)
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(texts)):
        clusters[find(i)].append(i)
    return sorted(clusters.values(), key=lambda c: c[0])
