"""Render stage: a Digest or Brief as JSON data, terminal text, Slack Block Kit or Discord embeds.

Each target has its own module; Block Kit lives only in ``bot.render.slack``.
"""

SHOWN_TAGS = 5  # tags shown per story, strongest first; the JSON output carries them all
