"""Ingest: one document read, extracted, summarized and tagged (``document``), many at once
in processes and stored in chunks (``pipeline``), the use cases over sources (``sources``): the
inbox and folder sources (``folders``), feeds and pages (``remote``, parsed by ``feeds``), what
is due (``due``), a source's tags (``tagging``); and the serve-side poller (``polling``)."""
