"""Story assignment at ingest: join, start, window, merge (older id kept), seeds, replicas."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text

from digests import stories as model
from digests.config import load_settings
from digests.ingest.document import ingest
from digests.ingest.pipeline import PipelineOptions, run
from digests.store import Store
from digests.store import stories as story_store
from digests.store._prepared import Prepared
from digests.store.articles import ChunkItem
from digests.store.export import articles_rows, stories_rows
from digests.store.schema import stories, story_posts, story_terms
from tests.conftest import NOW, ROOT, SEEDS, make_processed

DAM = (
    "Zorvath dam collapses in Keltara",
    "The Zorvath dam in Keltara province collapsed on Monday after days of rain. Engineers "
    "said cracks in the Zorvath dam wall had been reported in March. The Keltara governor "
    "ordered an inquiry into the Zorvath dam collapse.",
)
DAM_FOLLOW_UP = (
    "Inquiry into Zorvath dam opens",
    "An inquiry into the collapse of the Zorvath dam in Keltara opened on Thursday. The "
    "Keltara governor told the inquiry that warnings about the Zorvath dam wall went unheeded.",
)
RIVER = (
    "Brimmel river floods villages",
    "The Brimmel river burst its banks on Tuesday, flooding twelve villages. Rescuers "
    "evacuated families from villages along the Brimmel by boat. Meteorologists expect the "
    "Brimmel to keep rising.",
)
BRIDGE = (
    "Zorvath dam collapse floods Brimmel villages",
    "The Zorvath dam in Keltara collapsed on Monday and its water poured into the Brimmel "
    "river, flooding villages. Engineers said the Zorvath dam wall had cracked. Rescuers on "
    "the Brimmel evacuated families from the villages by boat.",
)
ELECTION = (
    "Narvia votes in snap election",
    "Voters in Narvia chose a new parliament on Sunday in a snap election called by Premier "
    "Olundsen. Olundsen's party trailed the opposition Greens in Narvia's exit polls.",
)

# Short wire items (a feed's headline and lead) about different events in the same countries:
# what they share is names (Russia, Moscow, the Kremlin, Putin, Iran), and little else.
ENERGY_DEAL = (
    "Iran and Russia sign energy deal",
    "Russian President Vladimir Putin and Iranian President Masoud Pezeshkian signed an energy "
    "agreement in Moscow on Monday, the Kremlin said. Russia will supply gas to Iran through "
    "Azerbaijan.",
)
ENERGY_FOLLOW_UP = (
    "Russia to start gas supplies to Iran under new deal",
    "Russia's Gazprom will begin gas supplies to Iran via Azerbaijan this year under the energy "
    "deal Putin and Pezeshkian signed in Moscow, Iran's oil minister said on Tuesday.",
)
PRISONER_EXCHANGE = (
    "Ukraine and Russia agree to prisoner exchange",
    "Ukraine and Russia agreed to exchange prisoners of war after a call between Putin and "
    "Zelensky, the Kremlin said in Moscow on Wednesday.",
)
NAVAL_DRILLS = (
    "Iran and Russia hold naval drills",
    "Iranian and Russian warships began joint naval drills in the Caspian Sea on Wednesday, "
    "Iran's navy said. Moscow and Tehran have deepened military ties.",
)
PRISONER_FOLLOW_UP = (
    "Ukraine and Russia swap 150 prisoners",
    "Ukraine and Russia each freed 150 prisoners of war on Thursday in an exchange brokered by "
    "the United Arab Emirates, Zelensky said.",
)


# Short wire items (a headline and a ~40-word lead) of six different events, three about tariffs
# and three about central banks and inflation: what they share is topic words ("tariffs",
# "prices", "interest", "rates", "inflation", "economy"). Two are followed up.
EV_DEAL = (
    "EU and China agree minimum prices for Chinese electric cars",
    "The European Union and China agreed on Tuesday to replace EU tariffs on Chinese-made "
    "electric vehicles with minimum import prices, ending a year-long trade dispute. Chinese "
    "carmakers including BYD will sell at agreed floor prices in Europe, the European "
    "Commission said.",
)
SOLAR_TARIFFS = (
    "US sets new tariffs on solar panels from Southeast Asia",
    "The United States on Monday imposed new tariffs of up to 120 percent on solar panels "
    "imported from Cambodia, Malaysia, Thailand and Vietnam, after finding that Chinese-owned "
    "factories there were selling below cost. Installers warned the tariffs would raise prices.",
)
WINE_TARIFFS = (
    "Trump announces tariffs on European wine and cheese",
    "President Donald Trump said on Thursday the United States would impose 25 percent tariffs "
    "on European wine, cheese and olive oil, escalating a trade dispute with the European "
    "Union. EU officials said they would respond proportionately. American importers warned "
    "that prices for consumers would rise sharply.",
)
BOJ_RATES = (
    "Bank of Japan raises interest rates to highest since 2008",
    "The Bank of Japan raised its key interest rate to 0.75 percent on Friday, its highest in "
    "17 years, as wages rise and inflation stays above its 2 percent target. Governor Kazuo "
    "Ueda said the bank would keep raising rates if the economy holds up.",
)
EURO_INFLATION = (
    "Inflation in the eurozone falls to 2.1 percent",
    "Inflation in the eurozone fell to 2.1 percent in November, close to the European Central "
    "Bank's target, official data showed. Energy prices fell while services inflation stayed "
    "high. Economists said the ECB would probably keep interest rates unchanged at its December "
    "meeting as the economy slowly recovers.",
)
UKRAINE_ECONOMY = (
    "Ukraine's economy grows despite war, central bank says",
    "Ukraine's economy will grow about 3 percent this year despite Russian attacks on its power "
    "grid and ports, the National Bank of Ukraine said, as it kept its key interest rate at 15.5 "
    "percent. The bank warned that inflation remained high because of rising food and energy "
    "prices.",
)
BOJ_FOLLOW_UP = (
    "Yen strengthens after Bank of Japan rate rise",
    "The yen rose against the dollar on Monday after the Bank of Japan raised its key interest "
    "rate to 0.75 percent, the highest in 17 years. Traders said Governor Kazuo Ueda signalled "
    "more rate rises as Japanese wages climb.",
)
EV_FOLLOW_UP = (
    "BYD welcomes EU deal on electric car prices",
    "Chinese carmaker BYD welcomed the agreement between the European Union and China to replace "
    "tariffs on Chinese electric vehicles with minimum prices, saying on Wednesday it would "
    "expand sales in Europe. The European Commission will check the floor prices each quarter.",
)


def _add(store: Store, text: tuple[str, str], *, days: float = 0, source: str = "Wire") -> int:
    item = make_processed(*text, source=source, published=NOW + timedelta(days=days))
    article_id = store.articles.add(item, now=NOW)
    assert article_id is not None
    return article_id


def _story(store: Store, article_id: int) -> int:
    [a] = store.articles.get([article_id])
    assert a.story is not None
    return a.story


def _dam_and_river(store: Store, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int, int]:
    """Thresholds these short texts cross (the tuned ones are measured on newswire in
    benchmarks/stories.py), then the dam's and (a day later) the river's article, two stories:
    (dam, river, the older story, the younger)."""
    monkeypatch.setattr(model, "JOIN", 0.05)
    monkeypatch.setattr(model, "MERGE", 0.03)
    dam, river = _add(store, DAM), _add(store, RIVER, days=1)
    older, younger = _story(store, dam), _story(store, river)
    assert older < younger
    return dam, river, older, younger


def test_a_follow_up_joins_its_story_and_another_event_starts_one(any_store: Store) -> None:
    dam = _add(any_store, DAM)
    follow = _add(any_store, DAM_FOLLOW_UP, days=3, source="Other Wire")
    vote = _add(any_store, ELECTION, days=1)
    assert _story(any_store, follow) == _story(any_store, dam)
    assert _story(any_store, vote) != _story(any_store, dam)
    [row] = [r for r in stories_rows(any_store.engine) if r["id"] == _story(any_store, dam)]
    assert row["articles"] == 2 and row["sources"] == ["Other Wire", "Wire"]
    assert row["headline"] == DAM[0]
    assert row["first_seen"].startswith(NOW.date().isoformat())
    assert row["last_seen"].startswith((NOW + timedelta(days=3)).date().isoformat())
    members = [r["id"] for r in articles_rows(any_store.engine, story=_story(any_store, dam))]
    assert members == [dam, follow]


def test_short_reports_of_other_events_in_the_same_countries_start_their_own_stories(
    any_store: Store,
) -> None:
    # A new operator's feed: the prisoner exchange joined the energy deal (0.21 alike, over
    # JOIN, on Russia, Putin, the Kremlin and Moscow alone) and its follow-up went with it;
    # the naval drills joined it too (Iran, Russia, Moscow, Tehran). Each event is its own.
    deal = _add(any_store, ENERGY_DEAL)
    deal_follow_up = _add(any_store, ENERGY_FOLLOW_UP, days=1, source="Other Wire")
    exchange = _add(any_store, PRISONER_EXCHANGE, days=2)
    drills = _add(any_store, NAVAL_DRILLS, days=2.5)
    exchange_follow_up = _add(any_store, PRISONER_FOLLOW_UP, days=3, source="Other Wire")
    assert _story(any_store, deal_follow_up) == _story(any_store, deal)
    assert _story(any_store, exchange_follow_up) == _story(any_store, exchange)
    assert len({_story(any_store, a) for a in (deal, exchange, drills)}) == 3
    # Alike enough for JOIN (names weigh by rarity like any word), but on names alone, so a
    # follow-up's strength is asked of them.
    exchange_terms, exchange_names = model.terms(*PRISONER_EXCHANGE)
    deal_terms = model.profile(*ENERGY_DEAL)
    assert model.JOIN <= model.similarity(exchange_terms, deal_terms) < model.JOIN_FOLLOW_UP
    assert exchange_names >= {"russia", "moscow", "kremlin", "putin"}
    assert model.on_names(exchange_terms, exchange_names, deal_terms)
    follow_up_terms, follow_up_names = model.terms(*PRISONER_FOLLOW_UP)
    assert not model.on_names(follow_up_terms, follow_up_names, exchange_terms)


def test_names_are_the_terms_written_capitalised_wherever_they_appear() -> None:
    title, body = NAVAL_DRILLS
    # "Moscow" and "Iranian" only start sentences here: still names; "drills" is not.
    assert {"moscow", "iranian", "tehran", "caspian"} <= model.names(title, body)
    assert "drill" not in model.names(title, body)
    # A word the text also writes in lower case is not a name ("Gas" and "gas").
    assert "gas" not in model.names("Gas deal", "Gas flows again. The gas deal holds.")
    # A Title Case headline says nothing either way; a sentence-case one does (terms are stems).
    assert "suppli" not in model.names("Gas Supplies Resume", "Russia said so on Monday.")
    named = model.names("Gas supplies from Russia resume", "It said so on Monday.")
    assert "russia" in named and "suppli" not in named
    # A text mostly in capitals has none that can be told.
    assert model.names("", "RUSSIA AND IRAN SIGN ENERGY DEAL IN MOSCOW") == frozenset()
    # Only the profile's terms are named.
    assert model.names(title, body) <= model.profile(title, body).keys()


def test_outside_the_window_only_a_close_follow_up_joins_and_never_past_the_follow_up_reach(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    dam = _add(store, DAM)
    close = model.similarity(model.profile(*DAM), model.profile(*DAM_FOLLOW_UP))
    assert close >= model.JOIN_FOLLOW_UP  # these two are very alike
    # 30 days on (past the 7-day window, within FOLLOW_UP): joins as a follow-up.
    follow = _add(store, DAM_FOLLOW_UP, days=30)
    assert _story(store, follow) == _story(store, dam)
    # Were JOIN_FOLLOW_UP out of reach, a later report (well above JOIN) is a new story.
    monkeypatch.setattr(model, "JOIN_FOLLOW_UP", 1.01)
    late = (DAM_FOLLOW_UP[0], DAM_FOLLOW_UP[1] + " The inquiry resumes next week.")
    apart = _add(store, late, days=45, source="Late Wire")
    assert _story(store, apart) != _story(store, dam)
    monkeypatch.undo()
    # Past FOLLOW_UP from every article of the story, however alike: a new story.
    far = model.FOLLOW_UP.days + 46
    again = _add(store, (DAM[0], DAM[1] + " A year on."), days=far, source="Archive")
    assert _story(store, again) not in (_story(store, dam), _story(store, apart))


def test_an_archive_article_finds_its_story_behind_newer_ones_sharing_its_words(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each term's index is read a bounded number of rows at a time (3 here, 200 shipped). A
    # backfilled article, dated before the newest stories that share its words, must still
    # find the story of its own time: reading only the newest rows found none in its reach.
    monkeypatch.setattr(story_store, "_PER_TERM", 3)
    for name, around in (("_CANDIDATES_QUERY", False), ("_CANDIDATES_AROUND", True)):
        query = Prepared(story_store._candidates_query(around=around))
        monkeypatch.setattr(story_store, name, query)
    dam = _add(any_store, DAM)
    reports = [  # the same words, each past the others' reach: four later stories
        _add(any_store, (DAM[0], f"{DAM[1]} Report {k} a year on."), days=100 + 70 * k)
        for k in range(4)
    ]
    assert len({_story(any_store, a) for a in (dam, *reports)}) == 5
    follow = _add(any_store, DAM_FOLLOW_UP, days=3, source="Archive")
    assert _story(any_store, follow) == _story(any_store, dam)
    # And an article dated among the later ones joins its own, not the first.
    late = _add(any_store, (DAM[0], f"{DAM[1]} Report 1 a year on, again."), days=171)
    assert _story(any_store, late) == _story(any_store, reports[1])


def test_a_longer_window_lets_a_less_alike_article_join(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model, "JOIN_FOLLOW_UP", 0.99)  # only the window decides here
    dam = _add(store, DAM)
    later = _add(store, DAM_FOLLOW_UP, days=30)
    assert _story(store, later) != _story(store, dam)
    store.articles.story_window = timedelta(days=60)  # [stories] window_days = 60
    late = (DAM_FOLLOW_UP[0], DAM_FOLLOW_UP[1] + " The inquiry resumes next week.")
    again = _add(store, late, days=31, source="Late Wire")
    assert _story(store, again) == _story(store, later)  # within 60 days of it now


def test_an_article_linking_two_stories_merges_them_into_the_older(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mechanism, with thresholds these short texts cross (the tuned ones are measured on
    # newswire in benchmarks/stories.py): a bridge article joins one and links the other.
    dam, river, older, younger = _dam_and_river(any_store, monkeypatch)
    bridge = _add(any_store, BRIDGE, days=1)
    assert {_story(any_store, a) for a in (dam, river, bridge)} == {older}
    live = [r["id"] for r in stories_rows(any_store.engine)]
    assert older in live and younger not in live
    # The merged-away id still finds its articles (it names the story it became).
    assert len(list(articles_rows(any_store.engine, story=younger))) == 3
    with any_store.engine.connect() as conn:
        assert (
            conn.scalar(
                select(func.count())
                .select_from(story_terms)
                .where(story_terms.c.story_id == younger)
            )
            == 0
        )
        assert conn.scalar(select(stories.c.merged_into).where(stories.c.id == younger)) == older


def test_a_merge_inside_one_chunk_leaves_every_article_of_the_chunk_in_the_kept_story(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A chunk's story ids are written at its end: the articles that went to the story merged
    # away earlier in the same chunk must be written with the kept one.
    monkeypatch.setattr(model, "JOIN", 0.05)
    monkeypatch.setattr(model, "MERGE", 0.03)
    chunk = [
        ChunkItem(
            f"test://{n}", f"h{n}", make_processed(*text, published=NOW + timedelta(days=days))
        )
        for n, (text, days) in enumerate([(DAM, 0), (RIVER, 1), (BRIDGE, 1), (ELECTION, 1)])
    ]
    dam, river, bridge, vote = any_store.articles.add_chunk(chunk, now=NOW)
    assert dam is not None and river is not None and bridge is not None and vote is not None
    kept = _story(any_store, dam)
    assert {_story(any_store, a) for a in (river, bridge)} == {kept}
    assert _story(any_store, vote) != kept
    assert [r["id"] for r in articles_rows(any_store.engine, story=kept)] == [dam, river, bridge]


def test_a_merge_repoints_the_stories_merged_into_the_one_merged_away(any_store: Store) -> None:
    # keep < gone < first < last (ids): ``first`` and ``last`` were merged into ``gone`` (their
    # dates at the ends of gone's); when gone is merged into keep they must point at keep. The
    # repointing looks them up by gone's dates (the last_seen index): the ends count.
    def made(conn, days: tuple[int, int]):  # type: ignore[no-untyped-def]
        when = NOW + timedelta(days=days[0])
        article = story_store.NewArticle(0, "t", {"x": 1.0}, when)
        story = story_store._start(conn, article, {"x": 1.0}, NOW)
        story.last = NOW + timedelta(days=days[1])
        story_store._save(conn, story)
        return story

    with any_store.engine.begin() as conn:
        keep, gone = made(conn, (0, 1)), made(conn, (2, 6))
        first, last, other = made(conn, (2, 3)), made(conn, (5, 6)), made(conn, (9, 9))
        for merged in (first, last):
            assert story_store._merge(conn, gone, merged, {}) is gone
        story_store._merge(conn, keep, gone, {})
        pointers = dict(conn.execute(select(stories.c.id, stories.c.merged_into)).all())
    assert pointers == {
        keep.id: None,
        gone.id: keep.id,
        first.id: keep.id,
        last.id: keep.id,
        other.id: None,
    }


def test_the_five_seeds_stay_five_stories(any_store: Store, tmp_path: Path) -> None:
    settings = load_settings({}, ROOT / "config")
    report = run(
        any_store,
        ingest([SEEDS], max_bytes=settings.max_file_bytes),
        PipelineOptions(topics=settings.topics),
        now=NOW,
    )
    assert len(report.added) == 5
    assert len({r["story"] for r in articles_rows(any_store.engine)}) == 5
    assert len(list(stories_rows(any_store.engine))) == 5


def test_a_profile_is_bounded_and_empty_for_no_words() -> None:
    huge = " ".join(f"Zorvath{n % 5000} dam" for n in range(200_000))
    p = model.profile("Title", huge)
    assert 0 < len(p) <= model.ARTICLE_TERMS
    assert model.profile("", "1 2 3 ... !!") == {}
    assert model.profile(*DAM) == model.profile(*DAM)  # the same in every process


@pytest.mark.postgres
def test_replicas_storing_one_event_at_once_make_one_story(pg_store: Store) -> None:
    """Two replicas (two engines on one database) store articles of the same event at the same
    moment: the id-order lock serializes assignment, so they make one story, not two."""
    other = Store.open(pg_store.engine.url.render_as_string(hide_password=False))
    replicas = [pg_store, other]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def store_chunk(n: int) -> None:
        try:
            chunk = [
                ChunkItem(
                    f"test://{n}/{k}",
                    f"h{n}{k}",
                    make_processed(
                        f"{DAM[0]} ({n}.{k})",
                        f"{DAM[1]} Report {n}.{k} from wire {n}.",
                        source=f"Wire {n}",
                        published=NOW + timedelta(hours=k),
                    ),
                )
                for k in range(3)
            ]
            barrier.wait()
            replicas[n].articles.add_chunk(chunk, now=NOW)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=store_chunk, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert not errors
    rows = list(articles_rows(pg_store.engine))
    assert len(rows) == 6 and len({r["story"] for r in rows}) == 1
    [story] = list(stories_rows(pg_store.engine))
    assert story["articles"] == 6 and story["sources"] == ["Wire 0", "Wire 1"]


def test_short_items_sharing_only_topic_words_start_their_own_stories(any_store: Store) -> None:
    # A new operator's wire: the EU-China electric car deal, US solar tariffs and Trump's wine
    # tariffs were one story (0.20-0.34 alike on "tariff", "import", "price", "percent"); the
    # Bank of Japan, eurozone inflation and Ukraine's economy another. A 40-word item's ~25
    # terms each weigh a lot, so a few topic words reached JOIN; it is asked more.
    ids = [
        _add(any_store, text, days=i / 2)
        for i, text in enumerate(
            (EV_DEAL, SOLAR_TARIFFS, WINE_TARIFFS, BOJ_RATES, EURO_INFLATION, UKRAINE_ECONOMY)
        )
    ]
    ev_follow_up = _add(any_store, EV_FOLLOW_UP, days=3.5, source="Other Wire")
    boj_follow_up = _add(any_store, BOJ_FOLLOW_UP, days=4, source="Other Wire")
    assert len({_story(any_store, a) for a in ids}) == 6
    assert _story(any_store, ev_follow_up) == _story(any_store, ids[0])
    assert _story(any_store, boj_follow_up) == _story(any_store, ids[3])
    wine, solar = model.profile(*WINE_TARIFFS), model.profile(*SOLAR_TARIFFS)
    assert (
        model.JOIN
        < model.similarity(wine, solar)
        < model.join_threshold(dated=True, within_window=True, terms=len(wine))
    )
    # A full profile is asked what it always was.
    assert model.join_threshold(dated=True, within_window=True) == model.JOIN


def test_a_merge_carries_what_each_subscription_was_shown_of_both_stories(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two stories of one event, each posted to "morning", then merged by a bridge article: what
    # was shown of the story merged away stayed under its id, so the merged story's next update
    # took none of it as shown (a sentence of it could be quoted again) and lost its message.
    dam, river, older, younger = _dam_and_river(any_store, monkeypatch)
    with any_store.engine.begin() as conn:
        story_store.record_posts(
            conn, "morning", {older: (["Dam sentence."], {"slack C1": 7})}, now=NOW
        )
        story_store.record_posts(
            conn,
            "morning",
            {younger: (["River sentence."], {"slack C1": 9, "discord hook": 10})},
            now=NOW,
        )
        story_store.record_posts(
            conn, "evening", {younger: (["River."], {"slack C2": 11})}, now=NOW
        )
    _add(any_store, BRIDGE, days=1)
    assert _story(any_store, river) == older
    morning = story_store.posted(any_store.engine, "morning", [older, younger])
    assert morning[younger] == morning[older]  # the id merged away is the kept story
    assert set(morning[older].sentences) == {"Dam sentence.", "River sentence."}
    # The kept story's own message stays the one an update replies to in that channel.
    assert morning[older].messages == {"slack C1": 7, "discord hook": 10}
    evening = story_store.posted(any_store.engine, "evening", [older, younger])
    assert evening[older] == evening[younger] and evening[older].messages == {"slack C2": 11}


@pytest.mark.parametrize("recorded", ["after the merge", "before the merge saw it"])
def test_a_delivery_composed_before_a_merge_records_what_it_showed_for_the_kept_story(
    any_store: Store, monkeypatch: pytest.MonkeyPatch, recorded: str
) -> None:
    # A delivery composed the younger story (its digest names that id), a bridge article then
    # merged it into the older, then the delivery recorded what it showed: under the id merged
    # away, which the kept story's next update never read (its sentences quoted again, no
    # thread reply). On PostgreSQL the merge may also commit after the delivery read the
    # stories but before it committed, past the merge's carrying of story_posts: a row under
    # the merged-away id (written here as such).
    dam, river, older, younger = _dam_and_river(any_store, monkeypatch)
    with any_store.engine.begin() as conn:
        story_store.record_posts(conn, "morning", {older: (["Dam."], {"slack C1": 7})}, now=NOW)
    composed = younger  # compose
    _add(any_store, BRIDGE, days=1)  # merge
    assert _story(any_store, river) == older
    with any_store.engine.begin() as conn:  # record
        if recorded == "after the merge":
            story_store.record_posts(
                conn, "morning", {composed: (["River."], {"discord hook": 10})}, now=NOW
            )
        else:
            conn.execute(
                story_posts.insert().values(
                    subscription="morning",
                    story_id=composed,
                    sentences=["River."],
                    messages={"discord hook": 10},
                    posted_at=NOW,
                )
            )
    shown = story_store.posted(any_store.engine, "morning", [older])
    assert set(shown[older].sentences) == {"Dam.", "River."}
    assert shown[older].messages == {"slack C1": 7, "discord hook": 10}
    assert story_store.posted(any_store.engine, "morning", [composed]) == {composed: shown[older]}


def _blocked(store: Store) -> bool:
    """Whether another session of the test database waits for a row lock."""
    with store.engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    return bool(waiting)


def _carry(younger: int, older: int) -> Callable[[Connection], None]:
    """The merge's statements on story_posts (``_merge``): ``younger`` into ``older``."""

    def merge(conn: Connection) -> None:
        conn.execute(stories.update().where(stories.c.id == younger).values(merged_into=older))
        story_store._carry_posts(conn, younger, older)

    return merge


def _interleave(
    store: Store, first: Callable[[Connection], None], second: Callable[[Connection], None]
) -> list[BaseException]:
    """Run ``first`` in a transaction, then ``second`` in another one (a thread) that must wait
    for the first's row locks before the first commits; what the second raised."""
    errors: list[BaseException] = []

    def run_second() -> None:
        try:
            with store.engine.begin() as conn:
                second(conn)
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    with store.engine.begin() as conn:
        first(conn)
        thread = threading.Thread(target=run_second)
        thread.start()
        for _ in range(500):  # until the second waits for the first's row lock
            if _blocked(store) or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert thread.is_alive(), "the second transaction did not wait for the first"
    thread.join()
    return errors


@pytest.mark.parametrize("first", ["the merge", "the delivery"])
def test_an_update_recorded_while_a_merge_carries_its_story_is_kept(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    # The younger story was posted before (a story_posts row under its id); a delivery of its
    # update records what it showed while a merge carries that row into the older story.
    # PostgreSQL (read committed): the merge's carry deleted the row and the delivery's
    # update of it then changed no row; or the delivery updated it first and the carry, having
    # read the row before, deleted the delivery's version. Either way "River 2." was lost.
    dam, river, older, younger = _dam_and_river(pg_store, monkeypatch)
    with pg_store.engine.begin() as conn:
        story_store.record_posts(
            conn, "morning", {younger: (["River 1."], {"slack C1": 7})}, now=NOW
        )
    merge = _carry(younger, older)

    def deliver(conn: Connection) -> None:
        shown = {younger: (["River 2."], {"slack C1": 8})}
        story_store.record_posts(conn, "morning", shown, now=NOW + timedelta(hours=1))

    steps = (merge, deliver) if first == "the merge" else (deliver, merge)
    errors = _interleave(pg_store, *steps)
    assert not errors
    shown = story_store.posted(pg_store.engine, "morning", [older, younger])
    assert set(shown[older].sentences) == {"River 1.", "River 2."}
    assert shown[older].messages == {"slack C1": 8}
    assert shown[younger] == shown[older]


@pytest.mark.parametrize("shown_before", [False, True])
@pytest.mark.parametrize("first", ["the merge", "the delivery"])
def test_a_story_shown_while_a_merge_carries_another_into_it_keeps_both(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch, first: str, shown_before: bool
) -> None:
    # The younger story was posted before; the older is shown for the first time by a
    # delivery while a merge carries the younger's row into it: both insert the kept story's
    # row. PostgreSQL: the second insert waited for the first and then failed (unique
    # violation): the delivery's run, or the ingest chunk, failed. Shown before (its row
    # there): each read the row before the other's write and wrote over it (a lost update).
    dam, river, older, younger = _dam_and_river(pg_store, monkeypatch)
    with pg_store.engine.begin() as conn:
        story_store.record_posts(conn, "morning", {younger: (["River."], {"slack C1": 7})}, now=NOW)
        if shown_before:
            story_store.record_posts(conn, "morning", {older: (["Dam 1."], {})}, now=NOW)
    merge = _carry(younger, older)

    def deliver(conn: Connection) -> None:
        shown = {older: (["Dam."], {"discord hook": 10})}
        story_store.record_posts(conn, "morning", shown, now=NOW + timedelta(hours=1))

    steps = (merge, deliver) if first == "the merge" else (deliver, merge)
    errors = _interleave(pg_store, *steps)
    assert not errors, errors
    shown = story_store.posted(pg_store.engine, "morning", [older])
    assert set(shown[older].sentences) == {"River.", "Dam."} | (
        {"Dam 1."} if shown_before else set()
    )
    assert shown[older].messages == {"slack C1": 7, "discord hook": 10}
