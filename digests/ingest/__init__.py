"""Ingest: one document read, extracted, summarized and tagged (``document``), many at once
in processes and stored in chunks (``pipeline``), sources and what is due (``sources``),
feeds (``feeds``) and the serve-side poller (``polling``)."""
