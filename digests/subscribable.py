"""What a subscription may name: one definition for every front end.

A subscription's topics are a configured topic's name or a tag a source declares (a feed
tagged ``world`` in ``sources.toml``, or added with ``digestbot sources add --tags world``),
as the tagger stores such a tag on every article of that source. Chat ``/brief subscribe``
(Slack, Discord), ``digestbot topics`` (its listing, ``--explain``), ``subscriptions.toml``'s
warning and ``digest --topic``'s error all ask here, so each names the same things; and a
listing of them (``digestbot topics``, chat ``/brief topics``) marks a source tag the same
way (:func:`source_tag_note`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from digests.config.settings import Settings
from digests.config.topics import Topic
from digests.net.util import redact

if TYPE_CHECKING:
    from digests.store import Store


def source_tags(settings: Settings, store: Store | None = None) -> dict[str, list[str]]:
    """Each tag a source declares that no topic is named, with the sources declaring it (by
    name), tags in name order: ``sources.toml``'s and, given ``store``, those of the sources
    added by `digestbot sources add`."""
    names = {t.name for t in settings.topics}
    declared: dict[str, set[str]] = {}
    for source in settings.sources:
        for tag in source.tags:
            declared.setdefault(tag, set()).add(source.name)
    if store is not None:
        for name, tags in store.sources.declared_tags():
            for tag in tags:
                declared.setdefault(tag, set()).add(name)
    return {tag: sorted(by) for tag, by in sorted(declared.items()) if tag not in names}


def subscribable(settings: Settings, store: Store | None = None) -> tuple[Topic, ...]:
    """The topics a subscription may name: the configured topics (in their order), then each
    source tag (:func:`source_tags`) as a topic of that name alone."""
    return (*settings.topics, *(Topic(name=tag) for tag in source_tags(settings, store)))


_NOTED = 5  # sources named in a source tag's mark; then "and N more"


def source_tag_note(by: Sequence[str]) -> str:
    """How a listing of what subscriptions take marks a source tag (it is no configured
    topic): ``(source tag: wire, desk)``, the sources declaring it (``by``, redacted: an
    older release named a source after its whole URL), the first few."""
    shown = ", ".join(redact(name) for name in by[:_NOTED])
    more = f" and {len(by) - _NOTED} more" if len(by) > _NOTED else ""
    return f"(source tag: {shown}{more})"
