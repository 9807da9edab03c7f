"""The extract stage: golden seeds, one synthetic page per boilerplate pattern, other kinds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digests.errors import InputError
from digests.extract import extract
from digests.models import Article, RawDocument

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _seed(name: str) -> Article:
    path = next(SEEDS.glob(f"{name}_*.txt"))
    return extract(RawDocument(locator=str(path), kind="txt", content=path.read_bytes()))


def _paragraphs(article: Article) -> list[str]:
    return article.body.split("\n\n")


# --------------------------------------------------------------------------- golden seeds


def test_seed_000_metadata_tags_and_body_bounds() -> None:
    article = _seed("000")
    assert article.title == "Guardrails and the challenge of US reciprocity"
    assert article.author == "Hannan Hussain"
    assert article.source == "Al Mayadeen English"
    assert article.published == datetime(2023, 6, 25, 23, 29, tzinfo=UTC)
    assert {"Taiwan", "One China policy", "China", "United States"} <= set(article.page_tags)
    assert "Privacy Policy" not in article.page_tags
    paragraphs = _paragraphs(article)
    assert paragraphs[0].startswith("After Washington’s “spy balloon” drama")
    # The body ends with the article's last sentence: the opinion disclaimer after it goes.
    assert paragraphs[-1].endswith(
        "before some hope for broad-based economic cooperation is evident to all."
    )
    assert "views expressed" not in article.body
    for junk in (
        "BREAKING",
        "Al-Qassam",
        "Related News",
        "Most Read",
        "More from this writer",
        "It’s a genocide in many forms",
        "All Rights Reserved",
        "5 Min Read",
    ):
        assert junk not in article.body
    # The pull quote repeats a sentence of the body: it must not appear a second time.
    assert article.body.count("The anti-China lobby’s deep interest") == 1


def test_seed_001_date_title_and_share_widget_gone() -> None:
    article = _seed("001")
    assert (
        article.title == "Red lines and cold calculations US and China brace for a tough dialogue"
    )
    assert article.published == datetime(2026, 2, 9, 10, 21, tzinfo=UTC)
    # "Caliber.az © 2026." above the article ("Name © year"), the name again below it.
    assert article.source == "Caliber.az"
    paragraphs = _paragraphs(article)
    assert paragraphs[0].startswith("Relations between the two superpowers – China and the United")
    assert paragraphs[-1].endswith("on a number of economic issues within the US–China agenda.")
    for junk in (
        "WHAT ARE YOU LOOKING FOR",
        "Views: 76",
        "Share it on social media",
        "Caliber.az ©",
    ):
        assert junk not in article.body


def test_seed_002_byline_teasers_language_label_and_bio_removed() -> None:
    article = _seed("002")
    assert article.title == "Xi’s visit to Moscow: a key moment in the fight against US hegemony"
    assert article.author == "Dmitry Trenin"
    # "Be the first to read breaking news on OopsTop.com ... news website Oopstop.com"
    assert article.source == "OopsTop.com"
    assert _paragraphs(article)[-1].startswith("A specific area is the in-depth dialogue")
    assert "From English" not in article.body
    assert "Dmitry Trenin is Professor" not in article.body
    assert _paragraphs(article)[0].startswith(
        "Chinese President Xi Jinping’s visit to Moscow was not just symbolic."
    )
    assert "Closer security cooperation between China and Russia would definitely make this" in (
        article.body
    )
    for junk in (
        "By Dmitry Trenin",
        "Putin praises Chinese roadmap",
        "Xi in Moscow: A visit that",
        "Be the first to read breaking news",
        "Leave a Reply",
        "more on the subject",
    ):
        assert junk not in article.body


def test_seed_003_body_runs_to_the_last_paragraph() -> None:
    article = _seed("003")
    assert article.title.startswith("Negotiations between Trump and Xi: A Step Toward Agreement")
    paragraphs = _paragraphs(article)
    assert paragraphs[0].startswith("Rokna Political Desk: The discussions between President")
    assert paragraphs[-1].endswith(
        "increasingly doubt the durability and predictability of U.S. commitments."
    )
    assert "Send Comments" not in article.body
    assert article.title not in article.body
    # "Rokna Political Desk: ..." opens the article (and "According to Rokna" follows).
    assert article.source == "Rokna"


def test_seed_004_no_title_line_and_repeats_kept_once() -> None:
    article = _seed("004")
    # No title line at the top: the repeated headline after the lead stands in for it.
    assert article.title == "China Engages in U.S. Trade Talks While Maintaining Firm Stance"
    paragraphs = _paragraphs(article)
    assert paragraphs[0].startswith("In a significant shift amid rising tensions, China has agreed")
    assert paragraphs[-1].endswith("for the sake of economic stability.")
    assert len(paragraphs) == len(set(paragraphs))
    assert article.body.count("Analysts suggest that this development") == 1
    assert article.title not in article.body
    assert article.source is None  # the page names no publisher, and there is no URL


# --------------------------------------------------------------------------- synthetic pages

ARTICLE = [
    "The city council voted on Tuesday to expand the bus network into the northern districts, "
    "a plan that has been debated for more than three years and that residents have asked for "
    "at nearly every public meeting since the last election.",
    "Under the plan, four new routes will open next spring, and the frequency of the two busiest "
    "lines will double during the morning and evening rush hours, according to a report that the "
    "transport department published ahead of the vote.",
    "Supporters said the expansion would cut commuting times for thousands of workers who now "
    "drive into the centre, while critics argued that the council had not explained how it would "
    "pay for the extra drivers and the new depot in the long run.",
    "The mayor said the money would come from a regional grant and from parking fees, which are "
    "set to rise by a small amount in January, and she promised that the council would publish "
    "the full budget before the end of the year.",
    "Residents of the northern districts welcomed the decision, although several of them told "
    "reporters that they would wait to see the buses on the road before they believed that the "
    "long-promised service had finally arrived in their neighbourhood.",
]
NAV = "  • Home\n  • World\n  • Politics\n  • Business\n  • Sport\n  • Culture\n  • Opinion\n"
HEAD = (
    f"Daily Courier\n{NAV}\nCouncil expands bus network to northern districts\n\n"
    "  • By Jane Miller\n  • 12 March 2024 08:15\n\n"
)
BOILERPLATE = {
    "ticker": (
        "BREAKING\nMinister resigns over budget row\nStorm warning issued for the coast tonight\n"
        "Stocks close higher after a volatile session\nTeam names new head coach\n\n",
        "",
        "Minister resigns",
    ),
    "share widget": (
        "",
        "Share this article\n  • Facebook\n  • Twitter\n  • WhatsApp\n  • Email\n  • Copy link\n",
        "WhatsApp",
    ),
    "related block": (
        "",
        "Related News\n\nMayor unveils plan for new cycle lanes downtown\n\n"
        "Hospital waiting times fall for a third month\n\nLocal bakery wins national award\n",
        "cycle lanes",
    ),
    "most read": (
        "",
        "Most Read\n  • Police close bridge after crash\n  • Schools to stay open in July\n"
        "  • Five things to do this weekend\n",
        "Most Read",
    ),
    "footer": (
        "",
        "About Us\nContact\nAdvertise with us\n© 2024 Daily Courier Media Group. All rights "
        "reserved.\n  • Privacy Policy\n  • Terms of Use\n  • Cookie settings\n",
        "All rights reserved",
    ),
    "comment prompt": (
        "",
        "Leave a Reply\nYour email address will not be published.\nComment\nName *\nEmail *\n"
        "Post Comment\n",
        "Leave a Reply",
    ),
}


def _page(before: str, after: str, paragraphs: list[str] = ARTICLE) -> bytes:
    # Tickers and menus sit above the headline; widgets and blocks below the article.
    return (before + HEAD + "\n\n".join(paragraphs) + "\n\n" + after).encode("utf-8")


def _txt(content: bytes, **hints: object) -> Article:
    return extract(RawDocument(locator="test.txt", kind="txt", content=content, hints=hints))


@pytest.mark.parametrize("pattern", sorted(BOILERPLATE))
def test_boilerplate_pattern_is_removed(pattern: str) -> None:
    before, after, marker = BOILERPLATE[pattern]
    article = _txt(_page(before, after))
    assert _paragraphs(article) == ARTICLE
    assert marker not in article.body
    assert article.title == "Council expands bus network to northern districts"
    assert article.author == "Jane Miller"
    assert article.published == datetime(2024, 3, 12, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize("pattern", ["footer", "most read", "share widget"])
def test_a_copy_without_blank_lines_keeps_its_last_sentence(pattern: str) -> None:
    # A browser's "select all, copy" (seeds 003 and 004): one paragraph a line, no blank
    # line between them, the closing sentence just above the block below the article.
    _, after, marker = BOILERPLATE[pattern]
    paragraphs = [*ARTICLE, "Police have appealed for witnesses."]
    article = _txt((HEAD + "\n".join(paragraphs) + "\n\n" + after).encode("utf-8"))
    assert _paragraphs(article) == paragraphs
    assert marker not in article.body
    assert article.title == "Council expands bus network to northern districts"


def test_nav_bullets_never_reach_the_body() -> None:
    article = _txt(_page("", ""))
    for item in ("Home", "Politics", "Opinion", "Daily Courier"):
        assert item not in article.body


def test_repeated_paragraph_is_kept_once() -> None:
    doubled = [*ARTICLE[:3], ARTICLE[1], *ARTICLE[3:], ARTICLE[0]]
    assert _paragraphs(_txt(_page("", "", doubled))) == ARTICLE


def test_lynx_wrapped_dump_is_reflowed() -> None:
    import textwrap

    wrapped = "\n\n".join(
        textwrap.fill(p, 74, initial_indent="   ", subsequent_indent="   ") for p in ARTICLE
    )
    menu = "\n".join(f"     * {w}" for w in ("News", "Sport", "Weather", "Business", "Travel"))
    page = (
        f"{menu}\n\nCouncil expands bus network to northern districts\n\n   By Jane Miller\n\n"
        f"{wrapped}\n\n     * About\n     * Contact\n     * Privacy policy\n"
    )
    article = _txt(page.encode("utf-8"))
    assert _paragraphs(article) == ARTICLE
    assert article.author == "Jane Miller"


def test_hints_fill_what_the_page_lacks() -> None:
    content = "\n\n".join(ARTICLE).encode("utf-8")
    article = _txt(
        content,
        title="Buses for the north",
        published="2024-03-12T09:00:00+01:00",
        source="Daily Courier",
        tags=["transport"],
        url="https://example.org/buses",
    )
    assert article.title == "Buses for the north"
    assert article.published == datetime(2024, 3, 12, 8, 0, tzinfo=UTC)
    assert article.source == "Daily Courier"
    assert article.page_tags == ("transport",)
    assert article.url == "https://example.org/buses"
    assert _paragraphs(article) == ARTICLE


@pytest.mark.parametrize(
    ("locator", "url", "day"),
    [
        ("inbox/APW19981023.0569.txt", None, datetime(1998, 10, 23, tzinfo=UTC)),
        ("posts/2024-05-01-bus-routes.txt", None, datetime(2024, 5, 1, tzinfo=UTC)),
        ("feed-entry", "https://example.org/2019/12/31/buses", datetime(2019, 12, 31, tzinfo=UTC)),
        ("inbox/2023-02-30-notes.txt", None, None),  # no such day
        ("2024-05-01/buses.txt", None, None),  # a dated folder says nothing of the file
        ("seeds/000_19981023aa.txt", None, datetime(1998, 10, 23, tzinfo=UTC)),
        ("seeds/x_120019981023.txt", None, None),  # digits run on: not a date
    ],
)
def test_a_date_in_the_file_name_or_url_path_dates_an_undated_page(
    locator: str, url: str | None, day: datetime | None
) -> None:
    raw = RawDocument(locator=locator, kind="txt", content="\n\n".join(ARTICLE).encode(), url=url)
    assert extract(raw).published == day


def test_a_whole_article_on_one_line_ending_in_a_desk_tag_is_kept() -> None:
    # A wire story saved as plain text: one line, no page around it, a desk tag at the end.
    line = " ".join(ARTICLE) + " (kjd)"
    article = extract(RawDocument(locator="inbox/wire.txt", kind="txt", content=line.encode()))
    assert article.body == line
    assert article.title.startswith("The city council voted on Tuesday")  # its first sentence


def test_a_headline_and_a_teaser_cut_off_mid_sentence_is_kept() -> None:
    text = (
        "Greater pressure on airline unions\n\nThe bankrupt airline is giving its unions three "
        "weeks to reach cost-cutting deals before it asks"
    )
    article = extract(RawDocument(locator="teaser.txt", kind="txt", content=text.encode()))
    assert article.title == "Greater pressure on airline unions"
    assert article.body.startswith("The bankrupt airline is giving")


@pytest.mark.parametrize(
    ("headline", "story"),
    [
        (
            "Chocolate Maker Profit Up, to Sell Biscuits",
            'CHICAGO (Wire) - Chocolate maker Cocoa Foods Corp. <A HREF="http://quotes.example/'
            'q?ticker=CCF.N">CCF.N</A> on Thursday posted a higher-than-expected 16 percent rise '
            "in quarterly profit and said it will get into the biscuit business.",
        ),
        (
            "Toy store profits back up",
            "TOY retailer Toys Galore has posted a second-quarter profit, overturning the loss it "
            "made over the same period the year before.",
        ),
    ],
)
def test_a_headline_a_blank_line_and_its_story_keep_the_story(headline: str, story: str) -> None:
    # Two blocks and no page around them: the classifier (trained on whole pages) kept the
    # headline as the body and dropped the story.
    text = f"{headline}\n\n{story}"
    article = extract(RawDocument(locator="item.txt", kind="txt", content=text.encode()))
    assert article.title == headline
    assert "second-quarter profit" in article.body or "16 percent rise" in article.body


@pytest.mark.parametrize(
    "text",
    [
        "Home News Sport Weather",
        "Home\n\nNews Sport Weather More",
        "Home News Sport Weather Travel Money Culture Video Live Shop Jobs",
    ],
)
def test_a_line_or_two_without_a_sentence_is_still_no_article(text: str) -> None:
    with pytest.raises(InputError, match="no article text"):
        extract(RawDocument(locator="menu.txt", kind="txt", content=text.encode()))


def test_the_page_s_own_date_wins_over_the_file_name() -> None:
    page = "Buses for the north\n\nMarch 12, 2024\n\n" + "\n\n".join(ARTICLE)
    raw = RawDocument(locator="inbox/2020-01-01-buses.txt", kind="txt", content=page.encode())
    assert extract(raw).published == datetime(2024, 3, 12, tzinfo=UTC)


def test_page_without_title_or_hints_falls_back_to_first_sentence() -> None:
    article = _txt("\n\n".join(ARTICLE).encode("utf-8"))
    assert article.title.startswith("The city council voted on Tuesday to expand the bus network")
    assert len(article.title) <= 151


TRAILERS = {
    "views disclaimer": "The views expressed in this article are the author's own and do not "
    "necessarily reflect the editorial policy of the Daily Courier.",
    "opinions disclaimer": "Opinions expressed by Daily Courier contributors are their own.",
    "language label": "From English",
    "translation credit": "Translated from Russian",
    "bio of the byline's author": "Jane Miller covers transport and city politics.",
    "bio with a role": "Tom Baker is a senior fellow at the Institute for Urban Studies and the "
    "author of two books on public transport. Follow him on X.",
}


@pytest.mark.parametrize("name", sorted(TRAILERS))
def test_trailer_after_the_last_paragraph_is_removed(name: str) -> None:
    article = _txt(_page("", "", [*ARTICLE, TRAILERS[name]]))
    assert _paragraphs(article) == ARTICLE


def test_last_paragraph_naming_a_person_is_not_taken_for_a_bio() -> None:
    closing = (
        "Maria Lopez is expected to present the detailed timetable to the council in December, "
        "after the consultation with residents of the northern districts has closed."
    )
    article = _txt(_page("", "", [*ARTICLE, closing]))
    assert _paragraphs(article) == [*ARTICLE, closing]


def test_short_line_about_comments_inside_the_article_does_not_end_it() -> None:
    line = "12 comments were filed in writing."
    article = _txt(_page("", "", [*ARTICLE[:2], line, *ARTICLE[2:]]))
    assert _paragraphs(article) == [*ARTICLE[:2], line, *ARTICLE[2:]]


def test_comment_thread_after_the_article_is_not_body() -> None:
    comment = (
        "I have waited for this bus for years and I still do not believe the council will find "
        "the money for the drivers, but I would be very happy to be proven wrong about it."
    )
    thread = (
        "3 Comments\n\n  • Tom Baker on March 12, 2024 at 9:15 am said:\n\n"
        f"{comment}\n\n  • Ann Lee on March 12, 2024 at 10:02 am said:\n\n{comment}\n"
    )
    article = _txt(_page("", thread))
    assert _paragraphs(article) == ARTICLE
    assert "said:" not in article.body


SOURCES = {
    "copyright holder after the year": ("", "© 2024 Daily Courier Ltd. All rights reserved.\n"),
    "name before the copyright sign": ("", "Daily Courier © 2024.\n"),
    "copyright word": ("", "Copyright 2024 Daily Courier Ltd\n"),
    "source label": ("Source: Daily Courier Ltd\n\n", ""),
    "site domain repeated": (
        "Read Daily-Courier.net first\n\n",
        "All stories on daily-courier.net are free to read\n",
    ),
}


@pytest.mark.parametrize("case", sorted(SOURCES))
def test_source_found_in_the_page(case: str) -> None:
    before, after = SOURCES[case]
    expected = (
        "Daily-Courier.net"
        if "domain" in case
        else ("Daily Courier Ltd" if "Ltd" in before + after else "Daily Courier")
    )
    assert _txt(_page(before, after)).source == expected


@pytest.mark.parametrize(
    ("opening", "source"),
    [
        ("Courier Political Desk: ", "Courier"),
        ("LONDON (Reuters) — ", "Reuters"),
        ("(AP) - ", "AP"),
    ],
)
def test_source_from_a_desk_or_agency_credit(opening: str, source: str) -> None:
    article = _txt(_page("", "", [opening + ARTICLE[0], *ARTICLE[1:]]))
    assert article.source == source


def test_masthead_repeated_at_the_foot_names_the_site() -> None:
    # HEAD opens with the masthead "Daily Courier"; the footer prints it again.
    article = _txt(_page("", "About Us\nContact\n\nDaily Courier\n"))
    assert article.source == "Daily Courier"


def test_url_hint_host_is_the_last_resort_and_other_domains_do_not_count() -> None:
    footer = "Blog at WordPress.com\n\nTheme by WordPress.com\n"
    article = _txt(_page("", footer), url="https://www.dailycourier.example/news/buses")
    assert article.source == "dailycourier.example"


# --------------------------------------------------------------------------- other kinds

HTML = (
    "<html><head><title>Council expands bus network | Daily Courier</title>"
    '<meta name="author" content="Jane Miller">'
    '<meta property="article:published_time" content="2024-03-12T08:15:00+00:00">'
    '<meta property="og:site_name" content="Daily Courier"></head><body>'
    "<nav><ul><li><a href='/'>Home</a></li><li><a href='/world'>World</a></li></ul></nav>"
    "<article><h1>Council expands bus network</h1>"
    + "".join(f"<p>{p}</p>" for p in ARTICLE)
    + "</article><footer><p>© 2024 Daily Courier. All rights reserved.</p></footer></body></html>"
)


def test_html_goes_through_trafilatura_with_metadata() -> None:
    article = extract(
        RawDocument(locator="a.html", kind="html", content=HTML.encode(), url="https://ex.org/a")
    )
    assert _paragraphs(article)[0] == ARTICLE[0]
    assert _paragraphs(article)[-1] == ARTICLE[-1]
    assert "All rights reserved" not in article.body
    assert article.title.startswith("Council expands bus network")
    assert article.author == "Jane Miller"
    assert article.source == "Daily Courier"
    assert article.published is not None and article.published.date().isoformat() == "2024-03-12"


def test_markdown_title_from_first_heading_and_markup_stripped() -> None:
    md = (
        "# Council expands *bus* network\n\nThe council [voted](https://ex.org) on **Tuesday**.\n"
        "It was `close`.\n\n## What happens next\n\n- four new routes\n- more buses\n\n"
        "![map](map.png)\n"
    )
    article = extract(RawDocument(locator="a.md", kind="md", content=md.encode()))
    assert article.title == "Council expands bus network"
    assert _paragraphs(article) == [
        "The council voted on Tuesday. It was close.",
        "What happens next",
        "four new routes",
        "more buses",
    ]


def test_markdown_front_matter_supplies_metadata() -> None:
    md = (
        "---\ntitle: Buses\nauthor: Jane Miller\ndate: 2024-03-12\ntags: [transport, city]\n---\n"
        "Body text here.\n"
    )
    article = extract(RawDocument(locator="a.md", kind="md", content=md.encode()))
    assert (article.title, article.author) == ("Buses", "Jane Miller")
    assert article.published == datetime(2024, 3, 12, tzinfo=UTC)
    assert article.page_tags == ("transport", "city")
    assert article.body == "Body text here."


def test_json_plain_text_and_metadata() -> None:
    doc = {
        "title": "Buses",
        "text": "First para.\n\nSecond\npara.",
        "url": "https://ex.org/b",
        "published": "2024-03-12T08:15:00Z",
        "source": "Courier",
        "author": "Jane Miller",
        "tags": ["transport"],
    }
    article = extract(RawDocument(locator="b.json", kind="json", content=json.dumps(doc).encode()))
    assert article.body == "First para.\n\nSecond para."
    assert article.url == "https://ex.org/b"
    assert article.published == datetime(2024, 3, 12, 8, 15, tzinfo=UTC)
    assert (article.source, article.author, article.page_tags) == (
        "Courier",
        "Jane Miller",
        ("transport",),
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"headline": "Buses", "content": "First para.\n\nSecond para."},  # a scraper's names
        {"title": "Buses", "article": "First para.\n\nSecond para.", "summary": "Short."},  # BBC
        {"title": "", "headline": "Buses", "text": "  ", "article": "First para.\n\nSecond para."},
    ],
)
def test_json_title_and_text_go_by_other_names(doc: dict[str, str]) -> None:
    article = extract(RawDocument(locator="b.json", kind="json", content=json.dumps(doc).encode()))
    assert (article.title, article.body) == ("Buses", "First para.\n\nSecond para.")


def test_a_newsapi_article_gives_its_date_and_source_name() -> None:
    doc = {
        "source": {"id": None, "name": "BBC News"},
        "title": "Storm hits coast",
        "publishedAt": "2026-12-01T10:00:00Z",
        "content": "Thousands were evacuated as the storm hit the coast.",
    }
    article = extract(RawDocument(locator="n.json", kind="json", content=json.dumps(doc).encode()))
    assert (article.source, article.published) == (
        "BBC News",
        datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    )


def test_an_html_page_keeps_the_time_of_its_published_date() -> None:
    # htmldate gave the day only: a 09:00Z story was stored at midnight, hours off its events.
    body = "<p>" + "The council approved the plan on Monday after a long debate. " * 5 + "</p>"
    page = (
        '<html><head><title>Plan</title><meta property="article:published_time" '
        f'content="2026-03-08T09:30+01:00"></head><body><article><h1>Plan</h1>{body}</article>'
        "</body></html>"
    )
    article = extract(RawDocument(locator="a.html", kind="html", content=page.encode()))
    assert article.published == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)


def test_a_newsapi_article_without_content_is_read_from_its_description() -> None:
    # "content": null is common in NewsAPI responses; where given, it ends in a cut mark.
    cut = {"title": "Storm", "content": "Thousands were evacuated on Monday… [+2893 chars]"}
    bare = {"title": "Storm", "content": None, "description": "Thousands were evacuated."}
    for doc, body in ((cut, "Thousands were evacuated on Monday"), (bare, bare["description"])):
        raw = RawDocument(locator="n.json", kind="json", content=json.dumps(doc).encode())
        assert extract(raw).body == body


def test_json_text_and_body_come_before_the_other_names() -> None:
    doc = {"content": "Not this.", "article": "Nor this.", "body": "This one.", "headline": "No"}
    article = extract(RawDocument(locator="b.json", kind="json", content=json.dumps(doc).encode()))
    assert article.body == "This one."
    doc = {"title": "Buses", "headline": "No", "text": "This one.", "body": "Not this."}
    article = extract(RawDocument(locator="b.json", kind="json", content=json.dumps(doc).encode()))
    assert (article.title, article.body) == ("Buses", "This one.")


def test_json_html_body_goes_through_the_html_path() -> None:
    doc = {"title": "Buses", "body": HTML}
    article = extract(RawDocument(locator="b.json", kind="json", content=json.dumps(doc).encode()))
    assert article.title == "Buses"
    assert "<p>" not in article.body
    assert _paragraphs(article)[0] == ARTICLE[0]


def test_json_html_fragment_is_taken_whole_as_text() -> None:
    # A feed description: one sentence with a link in it, no page around it (trafilatura,
    # made for pages, found no article in it and the item was lost).
    text = (
        'CHICAGO (Wire) - Chocolate maker Cocoa Corp. <A HREF="http://quotes.example/q?t=CC">'
        "CC.N</A> on Thursday posted a 16 percent rise in quarterly profit.<script>x()</script>"
        "<p>It will also make cookies.</p>"
    )
    doc = {"title": "Cocoa profit up", "text": text}
    article = extract(RawDocument(locator="c.json", kind="json", content=json.dumps(doc).encode()))
    assert _paragraphs(article) == [
        "CHICAGO (Wire) - Chocolate maker Cocoa Corp. CC.N on Thursday posted a 16 percent rise "
        "in quarterly profit.",
        "It will also make cookies.",
    ]


def test_json_html_fragment_without_words_is_refused() -> None:
    doc = {"title": "Nothing", "text": "<p> </p><br><div></div>"}
    with pytest.raises(InputError, match="no words"):
        extract(RawDocument(locator="n.json", kind="json", content=json.dumps(doc).encode()))


def test_decoding_utf8_bom_and_cp1252() -> None:
    text = "\n\n".join(ARTICLE).replace("centre", "café centre")
    for content in (b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("cp1252")):
        assert "café centre" in _txt(content).body


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("txt", b""),
        ("txt", b"   \n\n  \t"),
        ("txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
        ("txt", bytes(range(0, 32)) * 40),
        ("html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>"),
        ("json", b"{not json"),
        ("json", b'["a list"]'),
        ("json", b'{"title": "no body"}'),
        ("md", b"# Only a heading\n"),
        ("pdf", b"%PDF-1.4 whatever"),
    ],
)
def test_unusable_input_raises_input_error(kind: str, content: bytes) -> None:
    with pytest.raises(InputError) as info:
        extract(RawDocument(locator="bad-doc", kind=kind, content=content))
    message = str(info.value)
    assert "bad-doc" in message and "\n" not in message


def test_menu_only_page_has_no_article() -> None:
    with pytest.raises(InputError, match="no article text"):
        _txt(NAV.encode() * 3)
