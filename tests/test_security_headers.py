"""Security headers on every route for every audience, and pages a strict CSP can run."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import Auth, KioskDevice
from tests.test_roles import ROLES_TABLE

pytestmark = pytest.mark.python_only

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
AUDIENCES = ("anonymous", "kiosk", "facilitator", "organiser")
# Public pages that still must not be cached: forms with a token, a paired device's page,
# the withdrawal pages (a receipt code in the URL or the form).
NO_STORE_PUBLIC = {"auth.login", "kiosk.page", "kiosk.pair", "public.withdraw",
                   "public.withdraw_check", "public.withdraw_confirm",
                   "public.withdraw_done"}  # fmt: skip


def client_for(app: Flask, audience: str):
    if audience == "kiosk":
        return KioskDevice(app).client
    client = app.test_client()
    if audience != "anonymous":
        Auth(app, client).login(audience)
    return client


def example_url(rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 1 if type(converter).__name__ == "IntegerConverter" else "x"
    return rule.build(values, append_unknown=False)[1]


def every_route(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"}) or ["OPTIONS"]
        for method in methods:
            yield rule.endpoint, method, example_url(rule)


def test_the_walk_covers_every_endpoint(app) -> None:
    assert {endpoint for endpoint, _, _ in every_route(app)} == set(ROLES_TABLE)


@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_route_answers_with_the_security_headers(app, audience: str) -> None:
    client = client_for(app, audience)
    checked = 0
    for endpoint, method, url in every_route(app):
        response = client.open(url, method=method, headers={"Tus-Resumable": "1.0.0"})
        where = (audience, method, url, response.status_code)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp, where
        assert "style-src 'self'" in csp, where
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
        assert "frame-ancestors 'none'" in csp, where
        assert "object-src 'none'" in csp, where
        assert headers.get("X-Frame-Options") == "DENY", where
        assert headers.get("X-Content-Type-Options") == "nosniff", where
        permissions = headers.get("Permissions-Policy", "")
        if url.startswith("/kiosk/"):
            assert "camera=(self)" in permissions and "microphone=(self)" in permissions, where
        else:
            assert "camera=()" in permissions and "microphone=()" in permissions, where
        expected_referrer = "no-referrer" if url.startswith("/withdraw") else "same-origin"
        assert headers.get("Referrer-Policy") == expected_referrer, where
        private = "anonymous" not in ROLES_TABLE[endpoint] or endpoint in NO_STORE_PUBLIC
        staff = audience in ("facilitator", "organiser") and endpoint != "static"
        if private or staff:
            assert "no-store" in headers.get("Cache-Control", ""), where
        assert "Strict-Transport-Security" not in headers, where
        checked += 1
    assert checked >= 90


@pytest.mark.parametrize(
    ("public_base_url", "base_url", "hsts"),
    [
        ("https://voxpop.example.org", "https://voxpop.example.org", True),
        ("https://voxpop.example.org/", "https://VOXPOP.example.org:443", True),
        # The LAN host, even over HTTPS: the receipt QR's plain-HTTP link must keep working.
        ("https://voxpop.example.org", "https://192.168.1.20:8443", False),
        ("https://voxpop.example.org", "http://voxpop.example.org", False),
        ("http://192.168.1.20:8080", "https://192.168.1.20:8443", False),
        ("", "https://192.168.1.20:8443", False),
    ],
)
def test_hsts_only_for_the_public_https_host(app, public_base_url, base_url, hsts) -> None:
    app.config["PUBLIC_BASE_URL"] = public_base_url
    app.config["TLS_PORT"] = None  # no LAN redirect in the way
    response = app.test_client().get("/", base_url=base_url)
    assert ("Strict-Transport-Security" in response.headers) is hsts
    if hsts:
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_plain_http_pages_may_post_to_this_hosts_https_port(app) -> None:
    # The pairing form on plain HTTP is redirected (307) to HTTPS: form-action allows it.
    app.config["TLS_PORT"] = 8443
    response = app.test_client().get("/setup", base_url="http://192.168.1.20:8080")
    assert (
        "form-action 'self' https://192.168.1.20:8443"
        in response.headers["Content-Security-Policy"]
    )


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"), "script"),
    (re.compile(r"<style\b"), "style element"),
    (re.compile(r"\sstyle="), "style attribute"),
    (re.compile(r"\son[a-z]+="), "event handler attribute"),
    (re.compile(r"javascript:"), "javascript: URL"),
]


# Templates that are never served to a browser: the record of the day is HTML only on its way
# into WeasyPrint (a PDF, made offline with a fetcher that refuses the network), so its own
# <style> is not a page's inline style and no CSP applies to it.
NOT_SERVED = ("record/",)


@pytest.mark.parametrize("template", sorted(str(p.relative_to(TEMPLATES))
                                            for p in TEMPLATES.rglob("*.html")
                                            if not str(p.relative_to(TEMPLATES))
                                            .startswith(NOT_SERVED)))  # fmt: skip
def test_no_template_has_inline_script_or_style(template: str) -> None:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for pattern, what in INLINE:
        match = pattern.search(text)
        assert match is None, f"{template}: inline {what}: {match.group(0) if match else ''}"


@pytest.mark.parametrize("audience", AUDIENCES)
def test_rendered_pages_have_no_inline_script_or_style(app, audience: str) -> None:
    client = client_for(app, audience)
    for _endpoint, method, url in every_route(app):
        if method != "GET":
            continue
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        for pattern, what in INLINE:
            match = pattern.search(response.text)
            assert match is None, (audience, url, what, match.group(0) if match else "")


def test_withdrawal_forms_work_over_https_without_a_referer(app, kiosk) -> None:
    # The withdrawal pages send no Referer (the code is in the URL), so the CSRF check there
    # cannot insist on one, as Flask-WTF does for other forms over HTTPS.
    code = kiosk.post(kiosk.form()).get_json()["receipt_code"]
    client = app.test_client()
    base = "https://192.168.1.20:8443"
    page = client.get(f"/withdraw?code={code}", base_url=base)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    from tests.conftest import csrf_from

    token = csrf_from(page.text)
    form = {"code": code, "csrf_token": token}
    preview = client.post("/withdraw", data=form, base_url=base, follow_redirects=True)
    assert preview.status_code == 200, preview.text
    done = client.post("/withdraw/confirm", data=form, base_url=base, follow_redirects=True)
    assert done.status_code == 200, done.text
    # ... and the token is still required.
    refused = client.post("/withdraw", data={"code": code}, base_url=base)
    assert refused.status_code == 400


def test_archive_colours_come_from_a_stylesheet(app, client) -> None:
    page = client.get("/archive/")
    assert '<link rel="stylesheet" href="/archive/colours.css">' in page.text
    css = client.get("/archive/colours.css")
    assert css.mimetype == "text/css"
    assert '[data-perspective="volunteer"] { --colour: #' in css.text


def test_the_static_export_carries_its_policies_as_meta_tags(app, tmp_path) -> None:
    from voxpop.db import get_db
    from voxpop.publishing.export import export_site

    with app.app_context():
        export_site(get_db(), app.extensions["voxpop"].store, tmp_path / "site")
    index = html.unescape((tmp_path / "site" / "index.html").read_text(encoding="utf-8"))
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'self\';' in index
    assert "script-src 'none'" in index
    assert '<meta name="referrer" content="no-referrer">' in index
    assert '<link rel="stylesheet" href="colours.css">' in index
    colours = (tmp_path / "site" / "colours.css").read_text(encoding="utf-8")
    assert '[data-perspective="volunteer"]' in colours
    for pattern, what in INLINE:
        assert pattern.search(index) is None, what


def test_the_wall_takes_colours_from_a_stylesheet_and_is_never_served_stale(app, client) -> None:
    from tests.archivedata import add_archived

    add_archived(app, "text", room=1)
    page = client.get("/wall/")
    assert '<link rel="stylesheet" href="/archive/colours.css">' in page.text
    for url in ("/wall/", "/wall/api/state"):
        response = client.get(url)
        # Revalidated every time: a withdrawal must take an item off the screen at once.
        assert response.headers["Cache-Control"] == "no-cache", url
        assert "default-src 'self'" in response.headers["Content-Security-Policy"], url
