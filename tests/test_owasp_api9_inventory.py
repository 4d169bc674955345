"""OWASP API9:2023, improper inventory management: the OpenAPI document lists every
route the application serves, and nothing it does not."""

from __future__ import annotations

import re

from flask import Flask

from tests.client import ApiClient

NOT_DOCUMENTED = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/assets/{filename}"}


def test_every_route_is_documented_and_every_documented_route_exists(
    app: Flask, client: ApiClient
) -> None:
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        if not path.startswith("/api/"):
            served.add(("?", path))  # anything outside /api is an inventory problem
            continue
        if path in NOT_DOCUMENTED:
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            served.add((method.lower(), path))
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(method, path) for path, ops in document["paths"].items()
                  for method in ops if method in {"get", "post", "put", "patch", "delete"}}
    assert sorted(served - documented) == []
    assert sorted(documented - served) == []
    assert len(documented) > 150
    assert document["info"]["version"] == "v1"
    assert {s["url"] for s in document["servers"]} == {"/"}


def test_every_documented_operation_says_who_may_call_it(client: ApiClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    public = {("post", "/api/v1/auth/signup"), ("post", "/api/v1/auth/login"),
              ("post", "/api/v1/auth/password-reset"),
              ("post", "/api/v1/auth/password-reset/confirm"),
              ("post", "/api/v1/auth/invitations/accept"),
              ("post", "/api/v1/auth/email-verification/confirm"), ("get", "/api/v1/health"),
              ("post", "/api/v1/webhooks/stripe"),
              ("post", "/api/v1/webhooks/stripe/connect"),
              # The signed token in the URL is the permission (files as answers).
              ("put", "/api/v1/upload-slots/{token}"), ("get", "/api/v1/files/{token}")}
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue  # path-level "parameters"
            if (method, path) in public:
                assert "security" not in op, (method, path)
            else:
                # A person's token, and an API key where the operation names its scope.
                keys = [{"apiKey": []}] if op.get("x-scopes") else []
                assert op.get("security") == [{"bearerAuth": []}, *keys], (method, path)
                assert "401" in op["responses"], (method, path)
