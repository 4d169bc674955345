"""The OpenAPI document matches the URL map, and the docs page works offline."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask import Flask
from marshmallow import class_registry, fields

from tests import openapi_answers
from tests.client import ApiClient
from tests.factories import StaffFactory, UserFactory
from workforce.accounts.models import Role
from workforce.api.schemas import UtcDateTime
from workforce.api.security import policy_of

OPENAPI = "/api/v1/openapi.json"
DOCS = "/api/v1/docs"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
NOT_DOCUMENTED = {"HEAD", "OPTIONS"}
_PLACEHOLDER = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


def openapi_path(rule: str) -> str:
    return _PLACEHOLDER.sub(r"{\1}", rule)


def documented_rules(app: Flask) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) -> endpoint, for every rule the document must describe."""
    operations = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        if rule.rule in (OPENAPI, DOCS) or rule.rule.startswith(DOCS + "/assets/"):
            continue
        for method in (rule.methods or set()) - NOT_DOCUMENTED:
            operations[(openapi_path(rule.rule), method.lower())] = rule.endpoint
    return operations


@pytest.fixture
def spec(client: ApiClient) -> dict:
    response = client.get(OPENAPI)
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_public_openapi_3(client: ApiClient) -> None:
    response = client.get(OPENAPI)  # no token
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "workforce"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }


def test_every_route_is_documented_and_every_documented_route_exists(
    app: Flask, spec: dict
) -> None:
    expected = documented_rules(app)
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    undocumented = sorted(set(expected) - documented)
    phantom = sorted(documented - set(expected))
    assert not undocumented, f"routes missing from the OpenAPI document: {undocumented}"
    assert not phantom, f"documented operations that do not exist: {phantom}"
    assert ("/api/v1/users/{user_id}", "patch") in documented


def test_path_parameters_are_declared(spec: dict) -> None:
    for path, item in spec["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            declared = {
                p["name"]
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                if p["in"] == "path"
            }
            assert declared == names, (path, method)


def test_guarded_operations_declare_bearer_auth_and_401(app: Flask, spec: dict) -> None:
    failures = []
    for (path, method), endpoint in documented_rules(app).items():
        policy = policy_of(app.view_functions[endpoint])
        assert policy is not None, endpoint
        operation = spec["paths"][path][method]
        if policy.is_public:
            if operation.get("security"):
                failures.append(f"{method.upper()} {path} is public but asks for a token")
            continue
        expected = [{"bearerAuth": []}] + ([{"apiKey": []}] if policy.scope else [])
        if operation.get("security") != expected:
            failures.append(f"{method.upper()} {path}: security is {operation.get('security')}")
        if "401" not in operation["responses"]:
            failures.append(f"{method.upper()} {path} documents no 401")
        # Every guarded operation may refuse: a role it is not for, or a key's scope.
        if "403" not in operation["responses"]:
            failures.append(f"{method.upper()} {path} documents no 403")
    assert not failures, "\n".join(failures)


def test_every_operation_says_which_roles_and_scopes_may_call_it(app: Flask,
                                                                 spec: dict) -> None:
    """``x-roles`` and ``x-scopes`` (empty: no API key may call), and a sentence in the
    description, on every guarded operation, as the route declares them."""
    failures, scoped = [], 0
    for (path, method), endpoint in documented_rules(app).items():
        policy = policy_of(app.view_functions[endpoint])
        assert policy is not None, endpoint
        operation = spec["paths"][path][method]
        if policy.is_public:
            continue
        assert policy.roles is not None
        roles = sorted(role.value for role in policy.roles)
        scopes = [policy.scope.value] if policy.scope else []
        scoped += bool(scopes)
        if operation.get("x-roles") != roles or operation.get("x-scopes") != scopes:
            failures.append(f"{method.upper()} {path}: x-roles {operation.get('x-roles')}, "
                            f"x-scopes {operation.get('x-scopes')}")
        sentence = (f"API keys with the scope `{scopes[0]}`." if scopes
                    else "Not for API keys.")
        if sentence not in operation.get("description", ""):
            failures.append(f"{method.upper()} {path}: the description does not say "
                            f"{sentence!r}")
    assert not failures, "\n".join(failures)
    assert scoped >= 20  # the keys' routes are documented, not just the refusals
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_error_responses_are_problem_json(spec: dict) -> None:
    responses = spec["components"]["responses"]
    for name in ("UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT",
                 "UNPROCESSABLE_ENTITY", "TOO_MANY_REQUESTS", "DEFAULT_ERROR"):
        content = responses[name]["content"]
        assert list(content) == ["application/problem+json"], name
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }, name
    properties = spec["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "request_id", "errors"} <= set(properties)


class _AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_the_docs_page_loads_only_local_assets(client: ApiClient) -> None:
    response = client.get(DOCS)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    parser = _AssetLinks()
    parser.feed(html)
    assert parser.urls, "the docs page links no scripts or styles"
    assert any(url.endswith(".js") for url in parser.urls)
    assert any(url.endswith(".css") for url in parser.urls)
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"external asset {url}"
        assert url.startswith("/api/v1/docs/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.get_data(), url
    # Nothing else in the page (inline script included) reaches for another host.
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"'<>]+", html)
    assert not re.search(r"(?<![\w/])//[\w-]+\.[\w.-]+/", html)
    assert "unpkg" not in html and "cdn" not in html.lower()


def test_the_docs_point_at_the_local_document(client: ApiClient) -> None:
    html = client.get(DOCS).get_data(as_text=True)
    assert f'"{OPENAPI}"' in html
    assert '"validatorUrl": null' in html


def test_unknown_docs_assets_are_404(client: ApiClient) -> None:
    response = client.get("/api/v1/docs/assets/no-such-file.js")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    response = client.get("/api/v1/docs/assets/../../../../etc/passwd")
    assert response.status_code == 404


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_every_reference_resolves_and_numbers_are_numbers(spec: dict) -> None:
    """A reference to a component that does not exist (a response named after another
    Python version's ``HTTPStatus``), or a range written as a string (apispec does that
    for a ``Decimal`` field), makes the document unusable for clients and fuzzers."""
    missing = []
    for ref in sorted(_refs(spec)):
        node: object = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            missing.append(ref)
    assert not missing, missing
    bounds = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")

    def strings(node: object, path: str) -> list[str]:
        if isinstance(node, dict):
            bad = [f"{path}/{key}" for key in bounds
                   if key in node and isinstance(node[key], str)]
            return bad + [hit for key, value in node.items()
                          for hit in strings(value, f"{path}/{key}")]
        if isinstance(node, list):
            return [hit for i, value in enumerate(node) for hit in strings(value, f"{path}/{i}")]
        return []

    assert not strings(spec, "#"), strings(spec, "#")


# GET answers that may be a bare array: sets whose size the code fixes (none today).
FIXED_SETS: frozenset[str] = frozenset()


def test_every_list_answer_is_a_page(spec: dict) -> None:
    """A list that grows is a page, ``{items, next_cursor}``: a bare array cannot be paged
    later without breaking its clients."""
    bare = []
    for path, item in spec["paths"].items():
        schema = item.get("get", {}).get("responses", {}).get("200", {}).get(
            "content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        if schema.get("type") == "array" and path not in FIXED_SETS:
            bare.append(path)
    assert not bare, f"list answers that are not pages: {bare}"


def test_every_time_field_is_the_guarded_utc_field(app: Flask) -> None:
    """Times that UTC cannot hold were a 500 wherever a schema used marshmallow's own
    date-time fields; ``UtcDateTime`` refuses them with a 422. Every schema the API
    declares (bodies, queries, answers, nested ones) uses it."""
    plain = []
    schemas = [cls for classes in class_registry._registry.values() for cls in classes
               if cls.__module__.startswith("workforce.")]
    assert len(schemas) > 100  # the walk is not vacuous
    for schema in schemas:
        for name, field in schema._declared_fields.items():
            for inner in _fields_within(field):
                if isinstance(inner, fields.DateTime) and not isinstance(inner, UtcDateTime):
                    plain.append(f"{schema.__module__}.{schema.__name__}.{name}")
    assert not plain, "date-time fields that are not api.schemas.UtcDateTime:\n" + \
        "\n".join(sorted(set(plain)))


def _fields_within(field: fields.Field) -> list[fields.Field]:
    found = [field]
    for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                  getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            found += _fields_within(inner)
    return found


# --- every answer the suite receives is checked against the document ------------------------


def test_a_new_organisations_wellbeing_policy_matches_the_document(client: ApiClient) -> None:
    """Found end to end: the defaults answered ``support_links: null`` where the document
    says array (``ApiClient`` checks every answer against the document)."""
    admin = StaffFactory(role=Role.ADMIN)
    response = client.get("/api/v1/organisation/wellbeing-policy", as_user=admin)
    assert response.status_code == 200
    assert response.get_json()["support_links"] == []


def test_staff_roles_are_documented_without_trainer(spec: dict) -> None:
    """Found end to end: the document offered ``trainer`` for invitations and staff
    updates, which the server refuses."""
    schemas = spec["components"]["schemas"]
    staff = ["admin", "vendor_manager", "reviewer", "finance"]
    for name in ("InvitationCreate", "StaffUpdate", "Invitation", "IssuedInvitation"):
        assert schemas[name]["properties"]["role"]["enum"] == staff, name


def test_an_answer_that_disagrees_with_the_document_fails_the_test(
    app: Flask, client: ApiClient
) -> None:
    trainer = UserFactory()
    response = client.get("/api/v1/me", as_user=trainer)
    response.set_data(json.dumps({**response.get_json(), "languages": [3], "role": None}))
    with pytest.raises(AssertionError) as wrong_body:
        openapi_answers.check(app, "GET", "/api/v1/me", response)
    message = str(wrong_body.value)
    assert message.startswith("GET /api/v1/me answered 200, which the OpenAPI document")
    assert 'at $.languages[0]: 3 is not of type "string"' in message
    assert "at $.role: null is not one of" in message
    assert "(schema /properties/languages/items)" in message

    response.status_code = 202
    with pytest.raises(AssertionError, match="status 202 is not documented"):
        openapi_answers.check(app, "GET", "/api/v1/me", response)
    response.status_code = 409
    with pytest.raises(AssertionError, match="not application/problem\\+json"):
        openapi_answers.check(app, "GET", "/api/v1/me", response)
