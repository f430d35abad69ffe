"""The one renderer: a table in each format (values kept in csv and json, text escaped where the
format needs it), blocks as markdown and as one self-contained html page."""
import io
import json

import pandas as pd
import pytest

from tracker.results.render import FORMATS, data_uri, html, markdown, table

FRAME = pd.DataFrame({"a|b": ["x|y", "line\nnext"], "n": [1, 0.1 + 0.2], "h": ["<b>", "&"]})
PNG = b"\x89PNG\r\n\x1a\n"


def test_csv_and_json_keep_the_values():
    assert pd.read_csv(io.StringIO(table(FRAME, "csv"))).equals(FRAME)
    rows = json.loads(table(FRAME, "json"))
    assert rows == [{"a|b": "x|y", "n": 1.0, "h": "<b>"}, {"a|b": "line\nnext", "n": pytest.approx(0.3, rel=1e-15),
                                                          "h": "&"}]  # 15 significant digits, pandas' most
    tiny = [r["p"] for r in json.loads(table(pd.DataFrame({"p": [1.5e-20, 3.2e-9, 0.0123456789012345]}), "json"))]
    assert tiny == [1.5e-20, 3.2e-9, pytest.approx(0.0123456789012345, rel=1e-13)]  # a tiny p is not 0


def test_markdown_escapes_pipes_and_keeps_a_row_on_one_line():
    assert table(FRAME, "markdown") == ("| a\\|b | n | h |\n|---|---|---|\n| x\\|y | 1.0 | <b> |\n"
                                        "| line next | 0.30000000000000004 | & |\n")


def test_html_escapes_every_cell_and_header():
    out = table(pd.DataFrame({"<h>": ["<b>", "&"]}), "html")
    assert out == ("<table>\n<thead><tr><th>&lt;h&gt;</th></tr></thead>\n"
                   "<tbody><tr><td>&lt;b&gt;</td></tr><tr><td>&amp;</td></tr></tbody>\n</table>\n")


def test_the_plain_table_and_an_unknown_format():
    assert table(pd.DataFrame({"x": [1, 22]}), "table") == " x\n 1\n22\n"
    with pytest.raises(ValueError, match="unknown format 'xml'; expected one of table, markdown, csv, json, html"):
        table(FRAME, "xml")
    assert FORMATS == ("table", "markdown", "csv", "json", "html")


BLOCKS = [("h1", "Title & more"), ("p", "use `tracker compare` **now** <b>"), ("h2", "Section"),
          ("list", ["one", "two **2**"]), ("pre", "a < b"), ("table", pd.DataFrame({"k": ["v"]})),
          ("img", "curves.png", "the curves")]


def test_blocks_as_markdown():
    assert markdown(BLOCKS) == ("# Title & more\n\nuse `tracker compare` **now** <b>\n\n## Section\n\n"
                                "- one\n- two **2**\n\n```\na < b\n```\n\n| k |\n|---|\n| v |\n\n"
                                "![the curves](curves.png)\n")
    with pytest.raises(ValueError, match="unknown block 'video'"):
        markdown([("video", "x")])


def test_blocks_as_one_page_with_every_image_inline(tmp_path):
    (tmp_path / "curves.png").write_bytes(PNG)
    page = html(BLOCKS, tmp_path)
    assert page.startswith("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<title>Title &amp; more</title><style>")
    body = page.split("<body>\n", 1)[1]
    assert body == ("<h1>Title &amp; more</h1>\n"
                    "<p>use <code>tracker compare</code> <strong>now</strong> &lt;b&gt;</p>\n"
                    "<h2>Section</h2>\n<ul><li>one</li><li>two <strong>2</strong></li></ul>\n"
                    "<pre>a &lt; b</pre>\n" + table(pd.DataFrame({"k": ["v"]}), "html") + "\n"
                    f'<p><img alt="the curves" src="{data_uri(PNG)}"></p>\n</body></html>\n')
    assert data_uri(PNG) == "data:image/png;base64,iVBORw0KGgo="
    inline = html([("img", PNG, 'a "quoted" alt')], title="given")
    assert "<title>given</title>" in inline and f'<img alt="a &quot;quoted&quot; alt" src="{data_uri(PNG)}">' in inline
    with pytest.raises(ValueError, match="unknown block 'video'"):
        html([("video", "x")])


def test_the_pages_title_is_the_one_given_else_the_first_h1():
    assert "<title>given</title>" in html([("h1", "first"), ("h1", "second")], title="given")
    assert "<title>first</title>" in html([("h2", "x"), ("h1", "first"), ("h1", "second")])
    assert "<title>tracker report</title>" in html([("p", "x")])
