"""An administrator's edit in the portal changes only what it names, and what cannot be undone asks
first: limit forms pre-filled and partial (blank = unchanged, removing one value its own checkbox,
right under another administrator's concurrent edit), and deleting a user, revoking a key or clearing
limits only through a confirmation page that names what will be lost."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from llmgw.services import keys, limits, users
from llmgw.services.audit import Actor
from llmgw.storage import LimitValues
from tests.inprocess.test_portal import ADMIN_PW, BOB_PW, SITE, csrf, login, make_app, other, post, store_of

pytestmark = pytest.mark.usefixtures(
    "fast_hashes"
)  # argon2's real parameters are tests/unit/test_passwords.py's

LIMITS_FORM = "/ui/admin/limits"


class _Forms(HTMLParser):
    """Every form of a page as a browser would submit it untouched: text and hidden inputs with their
    values, checked checkboxes only, each select's selected (else first) option."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []  # (method, action, fields)
        self._select: str | None = None
        self._first_option = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("method", "get").lower(), a.get("action", ""), {}))
        elif not self.forms:
            return
        elif tag == "input" and "name" in a:
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.forms[-1][2][a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select":
            self._select, self._first_option = a["name"], True
        elif tag == "option" and self._select is not None:
            if self._first_option or "selected" in a:
                self.forms[-1][2][self._select] = a.get("value", "")
            self._first_option = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms(html: str) -> list[tuple[str, str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_posting_to(html: str, action: str) -> dict[str, str]:
    found = [f for method, a, f in forms(html) if method == "post" and a == action]
    assert len(found) == 1, f"no (single) form posting to {action}"
    return dict(found[0])


def bob_limits(tmp_path: Path) -> LimitValues | None:
    with store_of(tmp_path) as store:
        found = limits.list_limits(store, Actor.cli(), "bob")
    return found[0].values if found else None


def set_bob(tmp_path: Path, **values: object) -> None:
    with store_of(tmp_path) as store:
        limits.set_limits(store, Actor.cli(), "bob", **values)  # type: ignore[arg-type]


@pytest.fixture
def app(tmp_path: Path) -> Starlette:
    return make_app(tmp_path)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=SITE) as c:
        yield c


@pytest.fixture
def admin(app: Starlette, client: TestClient) -> TestClient:
    login(client, "alice", ADMIN_PW)
    return client


def edit_form(c: TestClient, subject: str) -> dict[str, str]:
    page = c.get(LIMITS_FORM, params={"subject": subject})
    assert page.status_code == 200
    return form_posting_to(page.text, LIMITS_FORM)


# --- limit forms: pre-filled, partial ---------------------------------------------------------------------


def test_the_limit_form_is_pre_filled_and_changing_the_budget_keeps_the_rates(
    admin: TestClient, tmp_path: Path
) -> None:
    set_bob(tmp_path, rpm=30, tpm=900, budget_usd=2.5, period="day")
    form = edit_form(admin, "bob")
    assert (form["rpm"], form["tpm"], form["budget_usd"], form["period"]) == ("30", "900", "2.5", "day")
    r = post(admin, LIMITS_FORM, {**form, "budget_usd": "4"})
    assert r.status_code == 303
    assert bob_limits(tmp_path) == LimitValues(rpm=30, tpm=900, budget_usd=4.0, period="day")
    assert "rpm 30, tpm 900, budget 4.00 USD/day" in admin.get("/ui/admin/audit").text


def test_a_blank_field_leaves_that_limit_as_it_is(admin: TestClient, tmp_path: Path) -> None:
    """What the old form sent to change only the budget: blanks no longer mean "no limit"."""
    set_bob(tmp_path, rpm=30, tpm=900, budget_usd=2.5, period="day")
    form = {"csrf_token": csrf(admin, "/ui/admin/users"), "subject": "bob", "rpm": "", "tpm": ""}
    r = post(admin, LIMITS_FORM, {**form, "budget_usd": "4", "period": "day"})
    assert r.status_code == 303
    assert bob_limits(tmp_path) == LimitValues(rpm=30, tpm=900, budget_usd=4.0, period="day")


def test_removing_one_limit_is_its_own_checkbox(admin: TestClient, tmp_path: Path) -> None:
    set_bob(tmp_path, rpm=30, tpm=900, budget_usd=2.5, period="day")
    page = admin.get(LIMITS_FORM, params={"subject": "bob"}).text
    assert 'type="checkbox" name="remove_tpm"' in page
    form = form_posting_to(page, LIMITS_FORM)
    assert post(admin, LIMITS_FORM, {**form, "remove_tpm": "on"}).status_code == 303
    assert bob_limits(tmp_path) == LimitValues(rpm=30, tpm=None, budget_usd=2.5, period="day")
    form = edit_form(admin, "bob")
    assert form["tpm"] == ""
    for name in ("rpm", "budget_usd"):
        assert post(admin, LIMITS_FORM, {**form, f"remove_{name}": "on"}).status_code == 303
    assert bob_limits(tmp_path) is None  # nothing left: no row


def test_a_field_left_alone_keeps_another_admins_concurrent_change(
    app: Starlette, admin: TestClient, tmp_path: Path
) -> None:
    set_bob(tmp_path, rpm=30, tpm=900, budget_usd=2.5, period="day")
    mine = edit_form(admin, "bob")
    with other(app) as second:
        login(second, "alice", ADMIN_PW)
        theirs = edit_form(second, "bob")
        assert post(second, LIMITS_FORM, {**theirs, "rpm": "50", "remove_tpm": "on"}).status_code == 303
    assert post(admin, LIMITS_FORM, {**mine, "budget_usd": "4", "period": "month"}).status_code == 303
    assert bob_limits(tmp_path) == LimitValues(rpm=50, tpm=None, budget_usd=4.0, period="month")
    set_bob(tmp_path, budget_usd=9.0)  # e.g. from the CLI, while the form below was open
    assert post(admin, LIMITS_FORM, {**edit_form(admin, "bob"), "rpm": "40"}).status_code == 303
    assert bob_limits(tmp_path) == LimitValues(rpm=40, tpm=None, budget_usd=9.0, period="month")


def test_a_bad_value_is_shown_with_what_was_typed_and_changes_nothing(
    admin: TestClient, tmp_path: Path
) -> None:
    set_bob(tmp_path, rpm=30, tpm=900, budget_usd=2.5, period="day")
    form = edit_form(admin, "bob")
    r = post(admin, LIMITS_FORM, {**form, "rpm": "many", "budget_usd": "7.25"})
    assert r.status_code == 400 and "requests per minute must be a whole number" in r.text
    again = form_posting_to(r.text, LIMITS_FORM)
    assert (again["rpm"], again["budget_usd"]) == ("many", "7.25")
    assert bob_limits(tmp_path) == LimitValues(rpm=30, tpm=900, budget_usd=2.5, period="day")
    out_of_range = post(admin, LIMITS_FORM, {**again, "rpm": "0"})
    assert out_of_range.status_code == 400 and "rpm must be a whole number from 1" in out_of_range.text
    both = post(admin, LIMITS_FORM, {**again, "rpm": "31", "remove_rpm": "on"})
    assert both.status_code == 400 and "remove it or give a new value" in both.text
    fixed = form_posting_to(both.text, LIMITS_FORM)
    assert post(admin, LIMITS_FORM, {**fixed, "rpm": "31", "remove_rpm": ""}).status_code == 303
    assert bob_limits(tmp_path) == LimitValues(rpm=31, tpm=900, budget_usd=7.25, period="day")


def test_limit_forms_say_what_they_bind(admin: TestClient, tmp_path: Path) -> None:
    with store_of(tmp_path) as store:
        key = keys.create_key(store, Actor.cli(), "bob", "laptop").key
    user_page = admin.get(LIMITS_FORM, params={"subject": "bob"}).text
    assert "this user, all keys" in user_page and "this key only" not in user_page
    key_page = admin.get(LIMITS_FORM, params={"subject": key.public_id}).text
    assert "this key only" in key_page and "laptop" in key_page and "bob" in key_page
    form = form_posting_to(key_page, LIMITS_FORM)
    assert post(admin, LIMITS_FORM, {**form, "tpm": "900"}).status_code == 303
    listing = admin.get("/ui/admin/users").text
    assert "this key only" in listing and f"<code>{key.public_id}</code>" in listing
    unknown = admin.get(LIMITS_FORM, params={"subject": "nobody"})
    assert unknown.status_code == 400 and "no user or key &#39;nobody&#39;" in unknown.text


def test_limit_forms_are_for_administrators_only(client: TestClient, tmp_path: Path) -> None:
    login(client, "bob", BOB_PW)
    assert client.get(LIMITS_FORM, params={"subject": "bob"}).status_code == 404
    token = csrf(client)
    assert post(client, LIMITS_FORM, {"csrf_token": token, "subject": "bob", "rpm": "5"}).status_code == 404
    assert bob_limits(tmp_path) is None


# --- destructive actions: a confirmation page first ------------------------------------------------------


def no_one_click_form(html: str, action_end: str) -> None:
    posting = [a for method, a, _ in forms(html) if method == "post" and a.endswith(action_end)]
    assert posting == [], f"a one-click form posts to {posting}"


def test_deleting_a_user_asks_first_and_says_what_goes(
    app: Starlette, admin: TestClient, tmp_path: Path
) -> None:
    with store_of(tmp_path) as store:
        for name in ("laptop", "ci", "old"):
            keys.create_key(store, Actor.cli(), "bob", name)
        keys.revoke_key(store, Actor.cli(), keys.list_keys(store, Actor.cli(), "bob")[-1].public_id)
    set_bob(tmp_path, rpm=30)
    listing = admin.get("/ui/admin/users").text
    no_one_click_form(listing, "/delete")
    assert 'href="/ui/admin/users/bob/delete"' in listing
    token = csrf(admin, "/ui/admin/users")

    refused = post(admin, "/ui/admin/users/bob/delete", {"csrf_token": token})
    assert refused.status_code == 303 and refused.headers["location"] == "/ui/admin/users/bob/delete"
    with store_of(tmp_path) as store:
        assert "bob" in {u.name for u in users.list_users(store, Actor.cli())}

    page = admin.get("/ui/admin/users/bob/delete")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert "Delete user bob" in text
    assert "3 keys (2 active)" in text and "sessions" in text and "limits" in text
    assert "usage history stays" in text and "cannot be undone" in text
    assert 'href="/ui/admin/users"' in text  # Cancel
    form = form_posting_to(page.text, "/ui/admin/users/bob/delete")
    assert form["confirm"] == "yes"
    with other(app) as cross:  # the confirmation step keeps the CSRF and Origin checks
        login(cross, "alice", ADMIN_PW)
        assert post(cross, "/ui/admin/users/bob/delete", form).status_code == 403
    assert post(admin, "/ui/admin/users/bob/delete", form, origin="https://evil.test").status_code == 403
    done = post(admin, "/ui/admin/users/bob/delete", form)
    assert done.status_code == 303 and done.headers["location"] == "/ui/admin/users?done=deleted"
    with store_of(tmp_path) as store:
        assert "bob" not in {u.name for u in users.list_users(store, Actor.cli())}
    assert admin.get("/ui/admin/users/bob/delete").status_code == 404


def test_revoking_a_key_asks_first_for_its_owner_and_for_an_admin(
    app: Starlette, client: TestClient, tmp_path: Path
) -> None:
    with store_of(tmp_path) as store:
        first = keys.create_key(store, Actor.cli(), "bob", "laptop").key
        second = keys.create_key(store, Actor.cli(), "bob", "ci").key

    def state(public_id: str) -> str:
        with store_of(tmp_path) as store:
            return next(
                k.state for k in keys.list_keys(store, Actor.cli(), "bob") if k.public_id == public_id
            )

    login(client, "bob", BOB_PW)
    mine = client.get("/ui/keys").text
    no_one_click_form(mine, "/revoke")
    revoke = f"/ui/keys/{first.public_id}/revoke"
    assert f'href="{revoke}"' in mine
    refused = post(client, revoke, {"csrf_token": csrf(client)})
    assert refused.status_code == 303 and refused.headers["location"] == revoke
    assert state(first.public_id) == "active"
    page = client.get(revoke)
    text = re.sub(r"\s+", " ", page.text)
    assert page.status_code == 200 and "Revoke your key laptop" in text and first.public_id in text
    assert "refused at once" in text and "cannot be undone" in text and 'href="/ui/keys"' in text
    assert post(client, revoke, form_posting_to(page.text, revoke)).status_code == 303
    assert state(first.public_id) == "revoked"

    with other(app) as admin:
        login(admin, "alice", ADMIN_PW)
        listing = admin.get("/ui/admin/keys").text
        no_one_click_form(listing, "/revoke")
        revoke = f"/ui/keys/{second.public_id}/revoke"
        assert f'href="{revoke}?back=admin"' in listing
        assert post(admin, revoke, {"csrf_token": csrf(admin), "back": "admin"}).status_code == 303
        assert state(second.public_id) == "active"
        page = admin.get(revoke, params={"back": "admin"})
        text = re.sub(r"\s+", " ", page.text)
        assert "Revoke the key ci of bob" in text and 'href="/ui/admin/keys"' in text
        done = post(admin, revoke, form_posting_to(page.text, revoke))
        assert done.status_code == 303 and done.headers["location"] == "/ui/admin/keys?done=revoked"
    assert state(second.public_id) == "revoked"


def test_another_users_key_has_no_confirmation_page(client: TestClient, tmp_path: Path) -> None:
    with store_of(tmp_path) as store:
        alices = keys.create_key(store, Actor.cli(), "alice", "admin-key").key
    login(client, "bob", BOB_PW)
    assert client.get(f"/ui/keys/{alices.public_id}/revoke").status_code == 404
    assert client.get("/ui/keys/0123456789abcdef/revoke").status_code == 404


def test_clearing_limits_asks_first(admin: TestClient, tmp_path: Path) -> None:
    set_bob(tmp_path, rpm=30, tpm=900, budget_usd=2.5, period="day")
    listing = admin.get("/ui/admin/users").text
    no_one_click_form(listing, "/clear")
    clear = "/ui/admin/limits/bob/clear"
    assert f'href="{clear}"' in listing
    refused = post(admin, clear, {"csrf_token": csrf(admin, "/ui/admin/users")})
    assert refused.status_code == 303 and refused.headers["location"] == clear
    assert bob_limits(tmp_path) is not None
    page = admin.get(clear)
    text = re.sub(r"\s+", " ", page.text)
    assert "Remove every limit of user bob" in text
    assert "30 requests/min, 900 tokens/min, 2.50 USD/day" in text and 'href="/ui/admin/users' in text
    done = post(admin, clear, form_posting_to(page.text, clear))
    assert done.status_code == 303 and done.headers["location"] == "/ui/admin/users?done=limits-cleared"
    assert bob_limits(tmp_path) is None


def test_an_admin_deleting_themself_asks_first_too(admin: TestClient, tmp_path: Path) -> None:
    with store_of(tmp_path) as store:
        users.create_user(store, Actor.cli(), "carol", "carol-password-12", role="admin")
    page = admin.get("/ui/admin/users/alice/delete")
    assert "your own account" in page.text
    done = post(
        admin, "/ui/admin/users/alice/delete", form_posting_to(page.text, "/ui/admin/users/alice/delete")
    )
    assert done.status_code == 303 and done.headers["location"] == "/ui/login"
    with store_of(tmp_path) as store:
        assert "alice" not in {u.name for u in users.list_users(store, Actor.cli())}
