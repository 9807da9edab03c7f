"""Networking: bounded HTTP fetches (``fetch``), the address guard that refuses private
networks (``_guard``, ``_connect``), and URL helpers — redaction, names, Retry-After (``util``)."""
