"""`web.table_boxes`: every table of a rendered page in a box of its own that scrolls sideways, the rest
of the page as it was, and the result still safe markup (not escaped again by the layout)."""

from __future__ import annotations

from markupsafe import Markup

from llmgw.portal.web import table_boxes, templates


def test_each_table_gets_a_box_and_nothing_else_changes() -> None:
    page = (
        '<h2>A</h2><table class="x"><tr><td>1</td></tr></table>'
        "<p>between <b>tables</b></p>\n<table>\n<tr><td>2</td></tr>\n</table><p>end</p>"
    )
    boxed = table_boxes(page)
    assert isinstance(boxed, Markup)
    assert boxed == (
        '<h2>A</h2><div class="table-box"><table class="x"><tr><td>1</td></tr></table></div>'
        '<p>between <b>tables</b></p>\n<div class="table-box"><table>\n<tr><td>2</td></tr>\n</table></div>'
        "<p>end</p>"
    )


def test_no_table_no_change() -> None:
    assert table_boxes("<p>a tableau, not a <code>&lt;table&gt;</code></p>") == (
        "<p>a tableau, not a <code>&lt;table&gt;</code></p>"
    )


def test_the_layout_boxes_a_pages_tables_and_escapes_its_values_once() -> None:
    page = templates.env.from_string(
        "{% filter table_boxes %}<table><tr><td>{{ name }}</td></tr></table>{% endfilter %}"
    ).render(name="<script>x</script>")
    assert page == (
        '<div class="table-box"><table><tr><td>&lt;script&gt;x&lt;/script&gt;</td></tr></table></div>'
    )
