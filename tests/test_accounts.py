"""Accounts through the API: logins and lockout, administration within the subtree,
optimistic concurrency, own password, Idempotency-Key, and concurrent creation."""

from __future__ import annotations

import base64
import functools
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest.mock import patch

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.pagination import encode_cursor
from auth.passwords import hash_password
from models.account import Account, AccountCreate, AccountKind, EntityKind, Scope, StaffRole
from registry.accounts import create_account, principal_for
from tests.conftest import assert_problem, staff

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "another-long-passphrase"

ADMIN_150000 = staff("150000")
ADMIN_150100 = staff("150100")
ADMIN_150200 = staff("150200")
REVIEWER_150100 = staff("150100", StaffRole.reviewer)


# --- helpers ----------------------------------------------------------------------------------


@functools.cache
def _real_hash(password: str) -> str:
    """A genuine argon2 hash, computed once per password (argon2 costs ~0.1-0.3 s a hash)."""
    return hash_password(password)


def make_account(
    session: Session,
    username: str,
    *,
    kind: AccountKind = AccountKind.staff,
    region: str = "150102",
    role: StaffRole = StaffRole.viewer,
    password: str = PASSWORD,
    scopes: tuple[Scope, ...] = (),
    disabled: bool = False,
) -> Account:
    """An account made by the operator (actor=None), flushed into the test transaction."""
    is_staff = kind is AccountKind.staff
    data = AccountCreate(
        username=username,
        display_name=f"{username} 测试",
        kind=kind,
        password=password,
        region_code=region if is_staff else None,
        role=role if is_staff else None,
        entity_kind=EntityKind.supplier if kind is AccountKind.self_service else None,
        scopes=list(scopes),
    )
    with patch("registry.accounts.hash_password", _real_hash):
        account = create_account(session, data=data, actor=None)
    if disabled:
        account.disabled = True
        session.add(account)
    session.flush()
    return account


def login(client: TestClient, username: str, password: str) -> Any:
    return client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


def client_login(client: TestClient, client_id: str, secret: str, **extra: str) -> Any:
    return client.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            **extra,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(client: TestClient, token: str) -> dict[str, Any]:
    r = client.get("/v1/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def new_staff_body(username: str = "xincheng.reviewer", **overrides: Any) -> dict[str, Any]:
    body = {
        "username": username,
        "display_name": "新城区审核员",
        "kind": "staff",
        "password": PASSWORD,
        "region_code": "150102",
        "role": "reviewer",
    }
    body.update(overrides)
    return body


def has_chinese(text_: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text_)


# --- password grant ---------------------------------------------------------------------------


def test_password_login_issues_a_token_that_reflects_region_and_role(client, session):
    account = make_account(session, "huhehaote.reviewer", region="150100", role=StaffRole.reviewer)
    r = login(client, "huhehaote.reviewer", PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert body["scope"] == ""
    who = me(client, body["access_token"])
    assert who["kind"] == "staff"
    assert who["subject"] == str(account.id)
    assert who["region_code"] == "150100"
    assert who["role"] == "reviewer"
    assert who["name"] == "huhehaote.reviewer 测试"


def test_password_login_username_is_case_insensitive(client, session):
    make_account(session, "Case.User")
    assert login(client, "case.user", PASSWORD).status_code == 200
    assert login(client, "CASE.USER", PASSWORD).status_code == 200


def test_successful_login_records_last_login(client, session):
    account = make_account(session, "last.login")
    assert account.last_login_at is None
    assert login(client, "last.login", PASSWORD).status_code == 200
    session.refresh(account)
    assert account.last_login_at is not None


def test_self_service_account_can_use_the_password_grant(client, session):
    make_account(session, "supplier.self", kind=AccountKind.self_service)
    r = login(client, "supplier.self", PASSWORD)
    assert r.status_code == 200, r.text
    who = me(client, r.json()["access_token"])
    assert (who["kind"], who["entity_kind"]) == ("self_service", "supplier")


def test_wrong_password_and_unknown_user_give_the_same_invalid_grant(client, session):
    make_account(session, "known.user")
    wrong = assert_problem(login(client, "known.user", "wrong-password-123"), 400, "invalid_grant")
    unknown = assert_problem(
        login(client, "nobody.here", "wrong-password-123"), 400, "invalid_grant"
    )
    assert wrong["detail"] == unknown["detail"]
    assert wrong["title"] == unknown["title"]
    assert wrong["error"] == unknown["error"] == "invalid_grant"


def test_password_grant_without_credentials_is_invalid_request(client):
    r = client.post("/v1/auth/token", data={"grant_type": "password", "username": "someone"})
    assert_problem(r, 400, "invalid_request")


def test_failed_logins_lock_the_account_until_an_admin_unlocks_it(
    client, session, settings, auth_header
):
    account = make_account(session, "lock.me", region="150102")
    for _ in range(settings.login_max_failures):
        assert_problem(login(client, "lock.me", "wrong-password-123"), 400, "invalid_grant")

    r = login(client, "lock.me", PASSWORD)
    assert_problem(r, 400, "account_locked")
    retry_after = int(r.headers["Retry-After"])
    assert 0 < retry_after <= settings.login_lockout_minutes * 60 + 1
    assert r.json()["error"] == "invalid_grant"

    # the admin of a neighbouring prefecture cannot see it, the one of its city can unlock it
    r = client.post(f"/v1/accounts/{account.id}/unlock", headers=auth_header(ADMIN_150200))
    assert_problem(r, 404, "account_not_found")
    r = client.post(f"/v1/accounts/{account.id}/unlock", headers=auth_header(ADMIN_150100))
    assert r.status_code == 200, r.text
    assert r.json()["locked_until"] is None

    assert login(client, "lock.me", PASSWORD).status_code == 200


def test_failures_below_the_limit_do_not_lock_and_success_resets_the_count(
    client, session, settings
):
    make_account(session, "almost.locked")
    for _ in range(settings.login_max_failures - 1):
        assert_problem(login(client, "almost.locked", "wrong-password-123"), 400, "invalid_grant")
    assert login(client, "almost.locked", PASSWORD).status_code == 200
    # the counter restarted: the same number of failures again still does not lock
    for _ in range(settings.login_max_failures - 1):
        assert_problem(login(client, "almost.locked", "wrong-password-123"), 400, "invalid_grant")
    assert login(client, "almost.locked", PASSWORD).status_code == 200


def test_disabled_account_cannot_log_in(client, session):
    make_account(session, "disabled.user", disabled=True)
    body = assert_problem(login(client, "disabled.user", PASSWORD), 400, "invalid_grant")
    assert "停用" in body["detail"]


def test_service_account_cannot_use_the_password_grant(client, session):
    make_account(session, "svc.nopassword", kind=AccountKind.service, scopes=(Scope.read,))
    assert_problem(login(client, "svc.nopassword", PASSWORD), 400, "invalid_grant")


def test_unsupported_grant_type(client):
    r = client.post("/v1/auth/token", data={"grant_type": "authorization_code", "code": "x"})
    assert_problem(r, 400, "unsupported_grant_type")


# --- client credentials -----------------------------------------------------------------------


@pytest.fixture
def service_account(session: Session) -> Account:
    return make_account(
        session, "svc.reporting", kind=AccountKind.service, scopes=(Scope.read, Scope.changes_read)
    )


def test_client_credentials_with_form_fields(client, service_account):
    r = client_login(client, "svc.reporting", PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "changes.read registry.read"
    who = me(client, r.json()["access_token"])
    assert who["kind"] == "service"
    assert who["subject"] == str(service_account.id)
    assert who["scopes"] == ["changes.read", "registry.read"]
    assert who["region_code"] is None


def test_client_credentials_with_http_basic(client, service_account):
    basic = base64.b64encode(f"svc.reporting:{PASSWORD}".encode()).decode()
    r = client.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200, r.text
    assert me(client, r.json()["access_token"])["kind"] == "service"


def test_client_credentials_subset_of_scopes_is_granted(client, service_account):
    r = client_login(client, "svc.reporting", PASSWORD, scope="registry.read")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "registry.read"
    assert me(client, r.json()["access_token"])["scopes"] == ["registry.read"]


def test_client_credentials_scope_outside_the_granted_ones_is_invalid_scope(
    client, service_account
):
    r = client_login(
        client, "svc.reporting", PASSWORD, scope="registry.read registry.read.restricted"
    )
    body = assert_problem(r, 400, "invalid_scope")
    assert "registry.read.restricted" in body["detail"]


def test_client_credentials_wrong_secret_is_invalid_client(client, service_account):
    r = client_login(client, "svc.reporting", "wrong-secret-123456")
    assert_problem(r, 401, "invalid_client")
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_client_credentials_unknown_client_is_invalid_client(client):
    assert_problem(client_login(client, "svc.unknown", PASSWORD), 401, "invalid_client")


def test_staff_account_cannot_use_client_credentials(client, session):
    make_account(session, "staff.as.client")
    assert_problem(client_login(client, "staff.as.client", PASSWORD), 401, "invalid_client")


def test_client_credentials_without_secret_is_invalid_client(client):
    r = client.post(
        "/v1/auth/token", data={"grant_type": "client_credentials", "client_id": "svc.reporting"}
    )
    assert_problem(r, 401, "invalid_client")


# --- creating accounts ------------------------------------------------------------------------


def test_admin_creates_a_staff_account_in_the_subtree(client, auth_header):
    r = client.post("/v1/accounts", json=new_staff_body(), headers=auth_header(ADMIN_150100))
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["Location"] == f"/v1/accounts/{body['id']}"
    assert r.headers["ETag"] == '"1"'
    assert body["username"] == "xincheng.reviewer"
    assert body["region_code"] == "150102"
    assert body["role"] == "reviewer"
    assert body["version"] == 1
    assert body["disabled"] is False
    assert not {"password", "password_hash"} & body.keys()

    fetched = client.get(r.headers["Location"], headers=auth_header(ADMIN_150100))
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["ETag"] == '"1"'

    # and the new account can log in
    assert login(client, "xincheng.reviewer", PASSWORD).status_code == 200


def test_admin_cannot_create_an_account_outside_the_subtree(client, auth_header):
    body = new_staff_body("baotou.viewer", region_code="150200", role="viewer")
    assert_problem(client.post("/v1/accounts", json=body, headers=auth_header(ADMIN_150100)), 403)
    # nor one for the level above
    body = new_staff_body("region.viewer", region_code="150000", role="viewer")
    assert_problem(client.post("/v1/accounts", json=body, headers=auth_header(ADMIN_150100)), 403)


def test_reviewer_cannot_create_accounts(client, auth_header):
    r = client.post("/v1/accounts", json=new_staff_body(), headers=auth_header(REVIEWER_150100))
    assert_problem(r, 403, "forbidden")


def test_anonymous_cannot_create_accounts(client):
    r = client.post("/v1/accounts", json=new_staff_body())
    assert_problem(r, 401, "authentication_required")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_only_the_region_admin_creates_service_accounts(client, auth_header):
    body = {
        "username": "svc.new",
        "display_name": "统计系统",
        "kind": "service",
        "password": PASSWORD,
        "scopes": ["registry.read"],
    }
    assert_problem(client.post("/v1/accounts", json=body, headers=auth_header(ADMIN_150100)), 403)
    r = client.post("/v1/accounts", json=body, headers=auth_header(ADMIN_150000))
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "service"
    assert r.json()["scopes"] == ["registry.read"]
    assert r.json()["region_code"] is None


def test_service_account_needs_scopes(client, auth_header):
    body = {
        "username": "svc.empty",
        "display_name": "系统",
        "kind": "service",
        "password": PASSWORD,
    }
    r = client.post("/v1/accounts", json=body, headers=auth_header(ADMIN_150000))
    assert_problem(r, 422, "service_needs_scopes")


def test_self_service_accounts_cannot_be_created_through_the_api(client, auth_header):
    body = {
        "username": "supplier.new",
        "display_name": "某供应商",
        "kind": "self_service",
        "password": PASSWORD,
        "entity_kind": "supplier",
        "entity_id": "S-1",
    }
    r = client.post("/v1/accounts", json=body, headers=auth_header(ADMIN_150000))
    assert_problem(r, 422, "self_service_via_signup")


def test_staff_account_needs_region_and_role(client, auth_header):
    r = client.post(
        "/v1/accounts", json=new_staff_body(role=None), headers=auth_header(ADMIN_150000)
    )
    assert_problem(r, 422, "staff_needs_region_and_role")


def test_duplicate_username_is_refused_case_insensitively(client, auth_header):
    headers = auth_header(ADMIN_150100)
    first = client.post("/v1/accounts", json=new_staff_body("Dup.User"), headers=headers)
    assert first.status_code == 201, first.text
    r = client.post("/v1/accounts", json=new_staff_body("dup.user"), headers=headers)
    body = assert_problem(r, 409, "username_taken")
    assert "dup.user" in body["detail"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param(
            {"password": "short"}, "password", "长度不能少于 12 个字符", id="short-password"
        ),
        pytest.param({"kind": "robot"}, "kind", "必须是以下之一", id="unknown-kind"),
        pytest.param({"role": "owner"}, "role", "必须是以下之一", id="unknown-role"),
        pytest.param(
            {"display_name": ""}, "display_name", "长度不能少于 1 个字符", id="empty-name"
        ),
    ],
)
def test_invalid_account_body_gives_per_field_chinese_errors(
    client, auth_header, overrides, field, message
):
    r = client.post(
        "/v1/accounts", json=new_staff_body(**overrides), headers=auth_header(ADMIN_150100)
    )
    body = assert_problem(r, 422, "validation_failed")
    errors = {e["field"]: e for e in body["errors"]}
    assert field in errors, body
    assert errors[field]["message"].startswith(message), errors[field]
    assert all(has_chinese(e["message"]) for e in body["errors"])
    assert field in body["detail"]


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("a b", id="with-space"),
        pytest.param("ab", id="too-short"),
        pytest.param("-dash.first", id="leading-dash"),
        pytest.param("用户名称", id="chinese"),
        pytest.param("", id="empty"),
    ],
)
def test_malformed_username_gives_a_chinese_field_error(client, auth_header, username):
    r = client.post(
        "/v1/accounts", json=new_staff_body(username=username), headers=auth_header(ADMIN_150100)
    )
    body = assert_problem(r, 422, "validation_failed")
    errors = {e["field"]: e["message"] for e in body["errors"]}
    assert errors.get("username") == "格式不正确", body


def test_too_long_username_is_a_validation_error_not_a_server_error(client, auth_header):
    r = client.post(
        "/v1/accounts", json=new_staff_body(username="u" * 65), headers=auth_header(ADMIN_150100)
    )
    assert_problem(r, 422, "validation_failed")


def test_missing_fields_are_each_reported(client, auth_header):
    r = client.post("/v1/accounts", json={}, headers=auth_header(ADMIN_150100))
    body = assert_problem(r, 422, "validation_failed")
    errors = {e["field"]: e["message"] for e in body["errors"]}
    assert {"username", "display_name", "kind", "password"} <= errors.keys()
    assert all(m == "必填字段缺失" for m in errors.values())


def test_unknown_region_for_a_staff_account(client, auth_header):
    r = client.post(
        "/v1/accounts",
        json=new_staff_body(region_code="150199"),
        headers=auth_header(ADMIN_150000),
    )
    assert_problem(r, 404)


# --- listing and reading ----------------------------------------------------------------------


@pytest.fixture
def spread_accounts(session: Session) -> dict[str, Account]:
    """Staff in 150100, 150102 and 150202, and one service account."""
    return {
        "city": make_account(session, "a.huhehaote", region="150100"),
        "county": make_account(session, "b.xincheng", region="150102"),
        "baotou": make_account(session, "c.donghe", region="150202"),
        "service": make_account(session, "d.svc", kind=AccountKind.service, scopes=(Scope.read,)),
    }


def _usernames(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {a["username"] for a in response.json()["items"]}


def test_city_admin_lists_only_staff_of_its_subtree(client, auth_header, spread_accounts):
    names = _usernames(client.get("/v1/accounts", headers=auth_header(ADMIN_150100)))
    assert {"a.huhehaote", "b.xincheng"} <= names
    assert "c.donghe" not in names
    assert "d.svc" not in names


def test_region_admin_lists_every_account(client, auth_header, spread_accounts):
    names = _usernames(client.get("/v1/accounts", headers=auth_header(ADMIN_150000)))
    assert {"a.huhehaote", "b.xincheng", "c.donghe", "d.svc"} <= names


def test_list_filters_by_subtree_and_kind(client, auth_header, spread_accounts):
    headers = auth_header(ADMIN_150000)
    within = _usernames(client.get("/v1/accounts?within=150200", headers=headers))
    assert "c.donghe" in within
    assert not {"a.huhehaote", "b.xincheng", "d.svc"} & within
    services = _usernames(client.get("/v1/accounts?kind=service", headers=headers))
    assert "d.svc" in services
    assert not {"a.huhehaote", "b.xincheng", "c.donghe"} & services


def test_list_pages_through_every_account_once(client, auth_header, spread_accounts):
    headers = auth_header(ADMIN_150000)
    everything = [
        a["username"] for a in client.get("/v1/accounts", headers=headers).json()["items"]
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/accounts", params=params, headers=headers).json()
        seen += [a["username"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == everything


def test_cursor_with_a_non_string_key_is_invalid_cursor(client, auth_header):
    r = client.get(
        "/v1/accounts", params={"cursor": encode_cursor([1])}, headers=auth_header(ADMIN_150000)
    )
    assert_problem(r, 400, "invalid_cursor")


def test_garbage_cursor_is_invalid_cursor(client, auth_header):
    r = client.get(
        "/v1/accounts", params={"cursor": "!!not-base64!!"}, headers=auth_header(ADMIN_150000)
    )
    assert_problem(r, 400, "invalid_cursor")


def test_account_outside_the_subtree_is_not_found_not_forbidden(
    client, auth_header, spread_accounts
):
    headers = auth_header(ADMIN_150100)
    for key in ("baotou", "service"):
        r = client.get(f"/v1/accounts/{spread_accounts[key].id}", headers=headers)
        assert_problem(r, 404, "account_not_found")
    r = client.get(f"/v1/accounts/{spread_accounts['county'].id}", headers=headers)
    assert r.status_code == 200
    assert r.json()["username"] == "b.xincheng"


def test_unknown_or_malformed_account_id_is_not_found(client, auth_header):
    headers = auth_header(ADMIN_150000)
    assert_problem(
        client.get(f"/v1/accounts/{uuid.uuid4()}", headers=headers), 404, "account_not_found"
    )
    assert_problem(client.get("/v1/accounts/not-a-uuid", headers=headers), 404, "account_not_found")


def test_non_admin_cannot_list_accounts(client, auth_header):
    assert_problem(client.get("/v1/accounts", headers=auth_header(REVIEWER_150100)), 403)
    assert_problem(client.get("/v1/accounts"), 401, "authentication_required")


# --- updating ---------------------------------------------------------------------------------


def test_patch_needs_if_match(client, session, auth_header):
    account = make_account(session, "patch.me")
    r = client.patch(
        f"/v1/accounts/{account.id}",
        json={"display_name": "新名字"},
        headers=auth_header(ADMIN_150100),
    )
    assert_problem(r, 428, "precondition_required")


def test_patch_with_a_stale_etag_is_refused(client, session, auth_header):
    account = make_account(session, "patch.me")
    r = client.patch(
        f"/v1/accounts/{account.id}",
        json={"display_name": "新名字"},
        headers={**auth_header(ADMIN_150100), "If-Match": '"7"'},
    )
    body = assert_problem(r, 412, "precondition_failed")
    assert body["current_etag"] == '"1"'


def test_patch_with_the_current_etag_updates_and_bumps_the_version(client, session, auth_header):
    account = make_account(session, "patch.me", role=StaffRole.viewer)
    headers = auth_header(ADMIN_150100)
    url = f"/v1/accounts/{account.id}"
    etag = client.get(url, headers=headers).headers["ETag"]
    r = client.patch(
        url,
        json={"display_name": "新名字", "role": "reviewer"},
        headers={**headers, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "新名字"
    assert r.json()["role"] == "reviewer"
    assert r.json()["version"] == 2
    assert r.headers["ETag"] == '"2"'
    # the old ETag is stale now
    r = client.patch(url, json={"display_name": "再改"}, headers={**headers, "If-Match": etag})
    assert_problem(r, 412, "precondition_failed")
    # and the role change shows in the next login
    token = login(client, "patch.me", PASSWORD).json()["access_token"]
    assert me(client, token)["role"] == "reviewer"


def test_disabling_an_account_stops_its_logins(client, session, auth_header):
    account = make_account(session, "to.disable")
    r = client.patch(
        f"/v1/accounts/{account.id}",
        json={"disabled": True},
        headers={**auth_header(ADMIN_150100), "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is True
    assert_problem(login(client, "to.disable", PASSWORD), 400, "invalid_grant")


def test_admin_cannot_disable_or_demote_themself(client, app, session):
    admin = make_account(session, "self.admin", region="150100", role=StaffRole.admin)
    token, _ = app.state.tokens.issue(principal_for(admin))
    url = f"/v1/accounts/{admin.id}"
    for change in ({"disabled": True}, {"role": "viewer"}):
        r = client.patch(url, json=change, headers={**bearer(token), "If-Match": '"1"'})
        assert_problem(r, 403, "self_administration")
    # renaming oneself is fine
    r = client.patch(
        url, json={"display_name": "我自己"}, headers={**bearer(token), "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text


def test_scopes_only_apply_to_service_accounts(client, session, auth_header):
    account = make_account(session, "staff.noscopes", region="150100")
    r = client.patch(
        f"/v1/accounts/{account.id}",
        json={"scopes": ["registry.read"]},
        headers={**auth_header(ADMIN_150000), "If-Match": '"1"'},
    )
    assert_problem(r, 422, "scopes_not_applicable")


def test_patch_service_account_with_null_scopes_is_not_a_server_error(client, session, auth_header):
    account = make_account(
        session, "svc.nullscopes", kind=AccountKind.service, scopes=(Scope.read,)
    )
    r = client.patch(
        f"/v1/accounts/{account.id}",
        json={"scopes": None},
        headers={**auth_header(ADMIN_150000), "If-Match": '"1"'},
    )
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json()["scopes"] == ["registry.read"]


def test_patch_outside_the_subtree_is_not_found(client, session, auth_header):
    account = make_account(session, "baotou.staff", region="150202")
    r = client.patch(
        f"/v1/accounts/{account.id}",
        json={"disabled": True},
        headers={**auth_header(ADMIN_150100), "If-Match": '"1"'},
    )
    assert_problem(r, 404, "account_not_found")


# --- own password -----------------------------------------------------------------------------


def test_change_own_password(client, session):
    make_account(session, "pw.changer")
    token = login(client, "pw.changer", PASSWORD).json()["access_token"]

    r = client.post(
        "/v1/me/password",
        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert_problem(r, 400, "wrong_password")
    assert login(client, "pw.changer", PASSWORD).status_code == 200

    r = client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert r.status_code == 204, r.text
    assert_problem(login(client, "pw.changer", PASSWORD), 400, "invalid_grant")
    assert login(client, "pw.changer", NEW_PASSWORD).status_code == 200


def test_new_password_must_differ_and_be_long_enough(client, app, session):
    account = make_account(session, "pw.rules")
    token, _ = app.state.tokens.issue(principal_for(account))
    r = client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": PASSWORD},
        headers=bearer(token),
    )
    assert_problem(r, 422, "password_unchanged")
    r = client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(token),
    )
    body = assert_problem(r, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["new_password"]


def test_password_change_for_a_principal_without_local_account(client, auth_header):
    r = client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth_header(ADMIN_150100),
    )
    assert_problem(r, 404, "account_not_found")


def test_password_change_needs_a_login(client):
    r = client.post(
        "/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert_problem(r, 401, "authentication_required")


# --- Idempotency-Key --------------------------------------------------------------------------


def _count(session: Session, username: str) -> int:
    return session.execute(
        text("SELECT count(*) FROM accounts WHERE lower(username) = lower(:u)"), {"u": username}
    ).scalar_one()


def test_same_idempotency_key_and_body_replays_the_first_answer(client, session, auth_header):
    headers = {**auth_header(ADMIN_150100), "Idempotency-Key": "create-xincheng-0001"}
    first = client.post("/v1/accounts", json=new_staff_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    second = client.post("/v1/accounts", json=new_staff_body(), headers=headers)
    assert second.status_code == 201, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["content-type"].startswith("application/json")
    assert _count(session, "xincheng.reviewer") == 1


def test_same_idempotency_key_with_another_body_is_refused(client, session, auth_header):
    headers = {**auth_header(ADMIN_150100), "Idempotency-Key": "create-xincheng-0002"}
    assert client.post("/v1/accounts", json=new_staff_body(), headers=headers).status_code == 201
    r = client.post("/v1/accounts", json=new_staff_body("someone.else"), headers=headers)
    assert_problem(r, 422, "idempotency_key_reused")
    assert _count(session, "someone.else") == 0


@pytest.mark.parametrize("key", ["short", "has space inside", "k" * 256])
def test_malformed_idempotency_key_is_refused(client, session, auth_header, key):
    headers = {**auth_header(ADMIN_150100), "Idempotency-Key": key}
    r = client.post("/v1/accounts", json=new_staff_body(), headers=headers)
    assert_problem(r, 400, "invalid_idempotency_key")
    assert _count(session, "xincheng.reviewer") == 0


def test_idempotency_keys_are_per_caller(client, session, auth_header):
    key = "shared-key-across-callers"
    first = client.post(
        "/v1/accounts",
        json=new_staff_body("first.caller"),
        headers={**auth_header(ADMIN_150100), "Idempotency-Key": key},
    )
    assert first.status_code == 201, first.text
    other = client.post(
        "/v1/accounts",
        json=new_staff_body("second.caller"),
        headers={**auth_header(ADMIN_150000), "Idempotency-Key": key},
    )
    assert other.status_code == 201, other.text
    assert "Idempotent-Replayed" not in other.headers
    assert other.json()["id"] != first.json()["id"]


def test_failed_request_does_not_burn_the_idempotency_key(client, session, auth_header):
    headers = {**auth_header(ADMIN_150100), "Idempotency-Key": "retry-after-fixing-0001"}
    bad = client.post("/v1/accounts", json=new_staff_body(region_code="150200"), headers=headers)
    assert_problem(bad, 403)
    # an error answer is not stored: the same request runs again (not a replay), and the key
    # stays free for a corrected body
    again = client.post("/v1/accounts", json=new_staff_body(region_code="150200"), headers=headers)
    assert_problem(again, 403)
    assert "Idempotent-Replayed" not in again.headers
    fixed = client.post("/v1/accounts", json=new_staff_body(), headers=headers)
    assert fixed.status_code == 201, fixed.text


# --- concurrency (real commits on a private database) -----------------------------------------


def _count_committed(engine: Engine, username: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM accounts WHERE lower(username) = lower(:u)"),
            {"u": username},
        ).scalar_one()


@pytest.mark.committing
def test_concurrent_creations_of_one_username_make_exactly_one_account(
    committing_app, committing_db
):
    token, _ = committing_app.state.tokens.issue(ADMIN_150100)
    body = new_staff_body("race.username")

    with TestClient(committing_app) as c:

        def create(i: int) -> Any:
            headers = {**bearer(token), "Idempotency-Key": f"race-username-{i:04d}"}
            return c.post("/v1/accounts", json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(create, range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, [r.text for r in responses if r.status_code != 409]
    for r in responses:
        if r.status_code != 201:
            assert_problem(r, 409, "username_taken")
    assert _count_committed(committing_db, "race.username") == 1


@pytest.mark.committing
def test_concurrent_retries_with_one_idempotency_key_create_one_account(
    committing_app, committing_db
):
    token, _ = committing_app.state.tokens.issue(ADMIN_150100)
    body = new_staff_body("race.idempotent")
    headers = {**bearer(token), "Idempotency-Key": "race-idempotent-0001"}

    with TestClient(committing_app) as c:

        def create(_: int) -> Any:
            return c.post("/v1/accounts", json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(create, range(20)))

    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 19
    assert _count_committed(committing_db, "race.idempotent") == 1
