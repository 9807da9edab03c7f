"""digestbot front ends: the CLI, the chat platforms (bot/platforms/: Slack, Discord, Mattermost), the scheduler and the outbox sender."""
