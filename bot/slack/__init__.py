"""Slack: the Bolt app factory (``app``), `/brief` commands, and the outbox sender."""
