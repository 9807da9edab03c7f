"""A small made-up news corpus for learned-topic tests: sport, tech and cooking stories.

Each story draws its sentences from its subject's templates and vocabulary; only some say
the subject's name ("sport", "technology"), as real stories do, so a tagger that only
matches names misses most of them. Cooking is what no configured topic covers.
"""

from __future__ import annotations

import random

VOCAB = {
    "sport": {
        "who": ["the striker", "the coach", "the captain", "the goalkeeper", "the champion"],
        "did": [
            "scored twice",
            "won the final",
            "lost the match",
            "signed for the club",
            "broke the record",
            "was injured in training",
        ],
        "where": [
            "at the stadium",
            "in the league",
            "at the tournament",
            "in the cup semi-final",
            "before the season opener",
        ],
        "name": "sport",
    },
    "tech": {
        "who": [
            "the software maker",
            "the chip designer",
            "the startup",
            "the phone maker",
            "the cloud provider",
        ],
        "did": [
            "released an update",
            "launched a new processor",
            "fixed a security flaw",
            "shipped a faster browser",
            "opened its developer platform",
        ],
        "where": [
            "for laptops and servers",
            "on its mobile network",
            "for internet users",
            "in its data centres",
            "across its online services",
        ],
        "name": "technology",
    },
    "cooking": {
        "who": ["the chef", "the baker", "the home cook", "the restaurant", "the pastry team"],
        "did": [
            "roasted the vegetables",
            "baked sourdough bread",
            "simmered the sauce",
            "seasoned the soup",
            "whisked the cream",
        ],
        "where": [
            "with garlic and butter",
            "in a cast iron pan",
            "for the winter menu",
            "with fresh herbs",
            "over a low heat",
        ],
        "name": "recipe",
    },
}


def story(subject: str, rng: random.Random, *, say_name: bool) -> tuple[str, str]:
    """A headline and a body of 6-9 sentences about ``subject``."""
    v = VOCAB[subject]
    sentences = [
        f"{rng.choice(v['who']).capitalize()} {rng.choice(v['did'])} {rng.choice(v['where'])}."
        for _ in range(rng.randint(6, 9))
    ]
    if say_name:
        sentences.insert(rng.randint(0, 3), f"It was a big week for {v['name']}.")
    title = sentences[0].rstrip(".")
    return title, " ".join(sentences[1:])


def corpus(n_each: int = 40, *, seed: int = 7) -> list[tuple[str, str, str]]:
    """``(subject, title, body)`` for ``n_each`` stories of each subject, shuffled."""
    rng = random.Random(seed)
    rows = [
        (subject, *story(subject, rng, say_name=i % 3 == 0))
        for subject in VOCAB
        for i in range(n_each)
    ]
    rng.shuffle(rows)
    return rows
