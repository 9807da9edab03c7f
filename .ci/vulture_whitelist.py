"""Names vulture cannot see used: called or read by a framework, never by our code.

`vulture digests bot .ci/vulture_whitelist.py` (in .ci/run) scans the product alone, so code
that only tests use is reported. Only framework callbacks belong here; anything else it
reports is dead code to remove (its tests go through the production path instead).
"""

# ruff: noqa: F821, B018, E702
# fmt: off

# Typer: commands registered by decorator, enum members chosen on the command line.
_.register_cmd  # bot/cli/serve.py, @discord_app.command("register")
_.list_  # bot/cli/sources.py, @app.command("list")
_.human  # bot/cli/_app.py, LogFormat member (--log-format human)

# Pydantic / pydantic-settings: validators, model config and the settings-sources hook.
_.model_config
_._known; _._name; _._unique; _._one_kind; _._strip; _._team; _._cron; _._timezone
_._no_blanks; _._named; _._lower; _._phrases; _._ids
_._discord_channel; _._load_env_vars; _._platform; _._long_key
_._blank_is_unset; _._slack_url; _._redirect; _._discord_url; _._port; _._consistent
_.settings_customise_sources
_.env_settings; _.dotenv_settings; _.file_secret_settings  # its keyword parameters

# slack_bolt's AsyncInstallationStore / AsyncOAuthStateStore interface (bot/platforms/slack/oauth.py).
_.async_save; _.async_save_bot; _.async_find_bot; _.async_find_installation
_.async_issue; _.async_consume

# Attributes set on library objects for the library to read.
_.wss_uri  # slack_sdk's socket-mode client (bot/server.py)
_.overflow  # a rich Table column
_.isolation_level  # the sqlite3 DBAPI connection
_.null_words  # sumy's EdmundsonSummarizer

# Methods a library calls on our subclasses / implementations.
_.collect  # prometheus_client Collector
_.connect_unix_socket  # httpcore's NetworkBackend interface
_.to_sentences; _.to_words  # sumy's Tokenizer interface

# Dataclass fields read through dataclasses.asdict (the /readyz JSON) or by callers of a
# returned report.
_.failed_runs  # DeliveryHealth -> /readyz
_.retried  # DeliveryReport (bot/sweep.py): what one sweep did

# SQLAlchemy tables registered on the shared MetaData (alembic compares and creates them).
_.slack_installations; _.slack_oauth_states

# Alembic migration modules: read by alembic's script directory.
_.revision; _.down_revision; _.branch_labels; _.depends_on; _.downgrade

# Enum members stored and read by value (SourceKind(row.kind)), never named in code.
_.FEED; _.PAGE  # digests/models.py SourceKind
