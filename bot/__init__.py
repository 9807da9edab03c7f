"""digestbot delivery: the CLI, the Slack Bolt app, Discord, the scheduler and the outbox sender."""
