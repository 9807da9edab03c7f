"""Learned topics: what each configured topic means, learned from the unlabeled store.

A topic is given by its name, optional aliases, optional example articles and reader
corrections. :func:`fit` learns a classifier from these and the stored articles, CPU-only and
with nothing downloaded:

1. **Seeds** (:mod:`.words`). Every word of the corpus that spells the name or an alias (``sport`` → sport,
   sports, sporting; ``tech`` → technology, technical) seeds its topic.
2. **Expansion.** Articles are labelled by the seed words they use (TF-IDF weighted); the words
   most typical of each topic's articles and least typical of the others' join its seeds, in
   rounds of growing size (10, 30, 60, 100, 150 words), so ``sport`` comes to mean rugby,
   cricket, coach, champion ... as this corpus uses them.
3. **Encoder** (:mod:`.vectors`, when :mod:`digests.encode` is installed). A sample of the articles (at most
   ``sample.token_budget`` tokens, more for a smaller fit) and each topic's name ("news about
   sport") become sentence vectors. Each article's topic is its nearest centroid of the
   articles clearly near the name. A topic the two views do not find the same articles for is one the store lacks: it
   keeps only the articles that name it. Where the other topics cover the store the
   encoder's labels replace the words', and where much of it is about none of them they only
   veto a word label; where they cover it, an article whose nearest neighbours neither view
   labels is in a part of the store no topic covers and is labelled none (see
   :func:`.vectors.with_vectors`). AG News dev, names only: 0.66 → 0.86 with the step below.
4. **Classifier** (:mod:`.classify`). A logistic regression on TF-IDF features (with the encoder and at least
   ``classify._DISTIL_MIN`` encoded articles: on each article's sentence vector as estimated from its
   TF-IDF by a ridge regression fitted on the encoded sample, folded back into word weights,
   see :func:`.classify.projection`) is trained on the most confident
   80 % of each topic's articles plus a background class: articles under every topic's Otsu
   cut that a cross-fitted classifier also calls background (they look like each other, not
   like a topic: what no configured topic is about; a short article that merely lacks topic
   words is claimed by its topic instead). It then tags every article; the first tag must
   beat the background (precision first), further ones need ``NEXT_CONFIDENCE``. Training
   draws at most ``classify._TRAIN_MAX`` articles.

A store larger than ``sample.FIT_MAX`` articles is learned from a sample of that many (the texts with
the smallest hashes, as the encoder's sample is, and every article a reader corrected), so a
fit's time and memory stay flat as the store grows; the model then tags every article.

Examples (``examples = [...]``) and "More like this" corrections are labelled positives of
their topic in every round; ``exclude`` and "Not #topic" corrections are never positives of it.
The result (:class:`TopicModel`, :mod:`.model`) tags text with confidences, strongest first, several or none,
and explains itself (:meth:`TopicModel.top_terms`, :meth:`TopicModel.why`). It serializes to
plain arrays (``to_bytes``/``from_bytes``, no pickle) so it is kept in the database.

Modules, in the order a fit uses them: :mod:`.sample` (which articles a fit reads and which
it encodes), :mod:`.words`, :mod:`.vectors`, :mod:`.classify`, :mod:`.fitting` (the entry point,
:func:`fit`), :mod:`.model`.
"""

from digests.learn.fitting import MIN_ARTICLES, NAMED, PER_TOPIC, fit, min_articles, named_in
from digests.learn.model import (
    MAX_CHARS,
    NEXT_CONFIDENCE,
    Correction,
    TopicModel,
    TopicSpec,
    confidence,
)
from digests.learn.sample import LEDE_CHARS, fit_sample
from digests.learn.vectors import Encode

__all__ = [
    "LEDE_CHARS",
    "MAX_CHARS",
    "MIN_ARTICLES",
    "NAMED",
    "NEXT_CONFIDENCE",
    "PER_TOPIC",
    "Correction",
    "Encode",
    "TopicModel",
    "TopicSpec",
    "confidence",
    "fit",
    "fit_sample",
    "min_articles",
    "named_in",
]
