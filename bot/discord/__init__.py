"""Discord: webhook delivery of digests, the `/brief` interactions endpoint, command registration.

webhook.py        DiscordWebhookSender: outbox messages → channel webhooks (429, 404, reconcile)
interactions.py   POST /discord/interactions: Ed25519 check, PING, deferred `/brief`
register.py       put the `/brief` application command on Discord's API
"""

DEFAULT_API_URL = "https://discord.com/api/v10"
