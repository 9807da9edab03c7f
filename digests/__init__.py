"""digestbot core: ingest → extract → summarize → tag → store → compose / brief.

Nothing in this package imports Slack, Discord or a web framework (tests/digests/test_layering.py).
"""
