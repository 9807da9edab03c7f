"""The small kit shared by the tests and the benchmarks (stand-ins, simulators, helpers).

Not part of the product (it is not installed): tests import it from the checkout root, and
benchmarks run as modules from there (``python -m benchmarks.fanout``).

* :mod:`testkit.articles` — ``make_processed`` and the tests' fixed ``NOW``;
* :mod:`testkit.slack_stub` — the Slack Web API stand-in on 127.0.0.1;
* :mod:`testkit.slack_requests` — signed slash-command and button requests, as Slack sends them;
* :mod:`testkit.processes` — ``digestbot`` commands and ``serve`` in child processes;
* :mod:`testkit.feedsim`, :mod:`testkit.fanout` — feed simulator, replica and fan-out runs;
* :mod:`testkit.pgscratch` — a scratch PostgreSQL database per run;
* :mod:`testkit.delivery` — delivery experiments' articles and what a channel shows.
* :mod:`testkit.sqlcount` — the statements a call runs, and its SQLite VM steps.
"""
