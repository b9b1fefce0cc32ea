"""Search on PostgreSQL (`GET /v1/search`, `/v1/search/suggest`), end to end through the API:
analysis (fragments, words, pinyin, initials, full-width and traditional input, codes, typos),
ranking, filters, facets, paging, visibility, restricted values, former names, and the write
paths that keep the documents current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from models.account import EntityKind, StaffRole
from tests import orgdata
from tests.conftest import assert_problem, self_service, staff

ROOT = staff("150000", StaffRole.reviewer)
HOHHOT = staff("150100", StaffRole.reviewer)  # 呼和浩特市 (league level)
XINCHENG = staff("150102", StaffRole.reviewer)  # 新城区
HUIMIN = staff("150103", StaffRole.reviewer)  # 回民区: a sibling county
BAOTOU = staff("150200", StaffRole.reviewer)  # 包头市

PLURAL = {
    "supplier": "suppliers",
    "agent": "agents",
    "purchaser": "purchasers",
    "expert": "experts",
    "commodity": "commodities",
}


def _create(client, auth_header, kind: str, body: dict[str, Any], who) -> dict[str, Any]:
    r = client.post(f"/v1/{PLURAL[kind]}", json=body, headers=auth_header(who))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _move(client, auth_header, kind: str, rec: dict[str, Any], name: str, who, reason=None):
    body = {"reason": reason} if reason else None
    r = client.post(f"/v1/{PLURAL[kind]}/{rec['id']}/{name}", json=body, headers=auth_header(who))
    assert r.status_code == 200, r.text
    moved: dict[str, Any] = r.json()
    return moved


def _approved(client, auth_header, kind: str, body: dict[str, Any], who) -> dict[str, Any]:
    rec = _create(client, auth_header, kind, body, who)
    _move(client, auth_header, kind, rec, "submit", who)
    return _move(client, auth_header, kind, rec, "approve", who)


@dataclass
class World:
    mengcao: dict[str, Any]  # 内蒙古蒙草生态环境(集团)股份有限公司, 新城区, medium, scope A0201 C16
    qingcheng: dict[str, Any]  # 呼和浩特市青城建设工程有限公司, 回民区, small, scope B01
    jianshe: dict[str, Any]  # 内蒙古建设集团有限公司, 包头 昆都仑区, large, scope B01
    draft: dict[str, Any]  # 呼和浩特市新城草原科技有限公司, 新城区, never submitted
    agent: dict[str, Any]  # 内蒙古正信招标代理有限公司, 新城区
    school: dict[str, Any]  # 呼和浩特市第一中学 (purchaser), 新城区
    it_expert: dict[str, Any]  # 王建国, specialty A0101
    building_expert: dict[str, Any]  # 李草原, specialty B0101
    printer: dict[str, Any]  # HP LaserJet Pro M404dn, A02020000, 2399.00
    cheap_printer: dict[str, Any]  # Canon LBP-6230dn, A02020000, 899.00
    expert_body: dict[str, Any]  # what the IT expert was registered with (ID number, phone)


@pytest.fixture
def world(client, auth_header) -> World:
    def supplier(region: str, name: str, who, **extra: Any) -> dict[str, Any]:
        return _approved(
            client, auth_header, "supplier", orgdata.supplier(region, name=name, **extra), who
        )

    mengcao = supplier(
        "150102",
        "内蒙古蒙草生态环境(集团)股份有限公司",
        XINCHENG,
        size="medium",
        address="呼和浩特市赛罕区大学东街 1 号",
    )
    qingcheng = supplier(
        "150103",
        "呼和浩特市青城建设工程有限公司",
        HUIMIN,
        business_scope=["B01"],
        address="回民区中山西路 8 号",
    )
    jianshe = supplier(
        "150203",
        "内蒙古建设集团有限公司",
        BAOTOU,
        size="large",
        business_scope=["B01"],
        address="包头市昆都仑区钢铁大街 7 号",
    )
    draft = _create(
        client,
        auth_header,
        "supplier",
        orgdata.supplier("150102", name="呼和浩特市新城草原科技有限公司", address="新华大街 2 号"),
        XINCHENG,
    )
    agent = _approved(
        client,
        auth_header,
        "agent",
        orgdata.agent("150102", name="内蒙古正信招标代理有限公司"),
        XINCHENG,
    )
    school = _approved(
        client,
        auth_header,
        "purchaser",
        orgdata.purchaser("150102", name="呼和浩特市第一中学"),
        XINCHENG,
    )
    expert_body = orgdata.expert("150102", name="王建国", specialties=["A0101"])
    it_expert = _approved(client, auth_header, "expert", expert_body, XINCHENG)
    building_expert = _approved(
        client,
        auth_header,
        "expert",
        orgdata.expert("150102", name="李草原", specialties=["B0101"]),
        XINCHENG,
    )
    printer = _approved(
        client,
        auth_header,
        "commodity",
        orgdata.commodity(name="激光打印机", brand="HP", model="LaserJet Pro M404dn"),
        ROOT,
    )
    cheap_printer = _approved(
        client,
        auth_header,
        "commodity",
        orgdata.commodity(
            name="黑白激光打印机",
            brand="Canon",
            model="LBP-6230dn",
            reference_price={"amount": "899.00", "as_of": "2026-11-01"},
        ),
        ROOT,
    )
    return World(
        mengcao,
        qingcheng,
        jianshe,
        draft,
        agent,
        school,
        it_expert,
        building_expert,
        printer,
        cheap_printer,
        expert_body,
    )


def search(client, who=None, auth_header=None, **params: Any) -> dict[str, Any]:
    headers = auth_header(who) if who is not None else {}
    r = client.get("/v1/search", params={"limit": 100, **params}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    result: dict[str, Any] = r.json()
    return result


def ids(result: dict[str, Any]) -> list[str]:
    return [h["id"] for h in result["hits"]]


# --- analysis and ranking -----------------------------------------------------------------------


def test_a_fragment_finds_the_company_and_is_highlighted(client, world):
    result = search(client, q="蒙草")
    assert ids(result)[0] == world.mengcao["id"]
    first = result["hits"][0]
    assert first["name"] == "内蒙古蒙草生态环境(集团)股份有限公司"
    assert first["highlight"] == "内蒙古<em>蒙草</em>生态环境(集团)股份有限公司"
    assert (first["kind"], first["status"], first["region_code"]) == (
        "supplier",
        "active",
        "150102",
    )
    assert result["fuzzy"] is False
    # a fragment inside the name, not at a word boundary
    assert world.mengcao["id"] in ids(search(client, q="草生态"))


def test_two_words_must_both_match(client, world):
    found = ids(search(client, q="呼和浩特 建设"))
    assert world.qingcheng["id"] in found
    assert world.jianshe["id"] not in found  # 建设 but not 呼和浩特
    assert world.mengcao["id"] not in found  # 呼和浩特 (address) but not 建设


def test_pinyin_and_initials(client, world):
    for q in ("mengcao", "MengCao", "meng cao"):
        assert ids(search(client, q=q))[0] == world.mengcao["id"], q
    found = ids(search(client, q="nmgjs"))
    assert found[0] == world.jianshe["id"]
    nei_menggu = ids(search(client, q="nei menggu"))
    assert {world.mengcao["id"], world.jianshe["id"], world.agent["id"]} <= set(nei_menggu)
    assert world.qingcheng["id"] not in nei_menggu
    highlighted = search(client, q="mengcao")["hits"][0]["highlight"]
    assert highlighted == "内蒙古<em>蒙草</em>生态环境(集团)股份有限公司"


def test_full_width_and_traditional_input(client, world):
    for q in ("內蒙古蒙草生態環境", "ｍｅｎｇｃａｏ", "蒙草生態", "（集團）股份"):
        assert ids(search(client, q=q))[0] == world.mengcao["id"], q


def test_exact_name_and_core_rank_before_prefix_and_full_text(client, auth_header, world):
    # a second company holding 蒙草 further inside its name
    other = _approved(
        client,
        auth_header,
        "supplier",
        orgdata.supplier("150102", name="呼和浩特市绿原蒙草种植专业合作社"),
        XINCHENG,
    )
    result = search(client, q="蒙草生态环境")  # the exact core name
    assert ids(result)[0] == world.mengcao["id"]
    assert result["hits"][0]["score"] == 55
    prefix = search(client, q="蒙草")
    assert ids(prefix)[:2] == [world.mengcao["id"], other["id"]]
    assert prefix["hits"][0]["score"] > prefix["hits"][1]["score"]


def test_the_exact_name_outranks_names_sharing_its_core(client, auth_header, world):
    """The core of `二连浩特市人民医院` is `人民医院`, shared by every people's hospital: the
    region the user typed decides."""
    hospitals = {
        name: _approved(
            client, auth_header, "purchaser", orgdata.purchaser(region, name=name), who
        )["id"]
        for name, region, who in (
            ("准格尔旗人民医院", "150622", staff("150622", StaffRole.reviewer)),
            ("二连浩特市人民医院", "152501", staff("152501", StaffRole.reviewer)),
            ("呼和浩特市第一人民医院", "150102", XINCHENG),
        )
    }
    for q in ("二连浩特市人民医院", "二連浩特市人民醫院", "二连浩特市 人民医院"):
        assert ids(search(client, q=q))[0] == hospitals["二连浩特市人民医院"], q
    # the core alone: every hospital whose core it is (or begins), shortest names first
    found = ids(search(client, q="人民医院"))
    assert set(found) == set(hospitals.values())


def test_a_uscc_finds_exactly_its_record_first(client, world):
    code = world.mengcao["data"]["uscc"]
    for q in (code, code.lower(), f"{code[:8]} {code[8:]}"):
        result = search(client, q=q)
        assert ids(result) == [world.mengcao["id"]], q
        assert result["hits"][0]["score"] == 100


def test_a_catalog_code_finds_commodities_and_a_model_its_commodity(client, world):
    printers = {world.printer["id"], world.cheap_printer["id"]}
    for q in ("A02020000", "A0202", "a0202"):
        result = search(client, q=q)
        assert set(ids(result)) == printers, q
        assert {h["score"] for h in result["hits"]} == {100}
    # suppliers whose business scope lies in the class follow the exact code's commodities
    assert set(ids(search(client, q="A0201"))) == {world.mengcao["id"]}
    for q in ("LaserJet Pro M404dn", "laserjet pro m404dn", "HP LaserJet Pro M404dn"):
        assert ids(search(client, q=q))[0] == world.printer["id"], q
    assert ids(search(client, q="M404dn")) == [world.printer["id"]]
    assert ids(search(client, q="惠普 打印机")) == [world.printer["id"]]  # brand alias
    # a catalogue code among other words restricts the class
    assert ids(search(client, q="A02020000 惠普")) == [world.printer["id"]]
    assert ids(search(client, q="A0202 Canon")) == [world.cheap_printer["id"]]
    assert ids(search(client, q="A0201 惠普")) == []
    assert set(ids(search(client, q="A0202 打印机"))) == {
        world.printer["id"],
        world.cheap_printer["id"],
    }
    assert ids(search(client, q="laserj"))[0] == world.printer["id"]  # as you type


def test_a_typo_still_finds_it(client, world):
    homophone = search(client, q="蒙曹")  # pinyin input method typo
    assert ids(homophone)[0] == world.mengcao["id"]
    assert homophone["fuzzy"] is True
    wrong_character = search(client, q="内蒙古蒙草生杰环境")
    assert ids(wrong_character)[0] == world.mengcao["id"]
    assert wrong_character["fuzzy"] is True
    # an exact match is never mixed with fuzzy ones
    assert search(client, q="蒙草")["fuzzy"] is False


def test_nothing_found_is_an_empty_answer(client, world):
    result = search(client, q="完全不存在的名称ZZZ")
    assert result["hits"] == [] and result["total"] == 0 and result["next_cursor"] is None
    assert result["fuzzy"] is False
    assert result["facets"] == {"kind": {}, "region": {}, "status": {}}


def test_people_are_found_by_name_and_pinyin(client, world):
    assert ids(search(client, q="王建国")) == [world.it_expert["id"]]
    assert ids(search(client, q="wangjianguo"))[0] == world.it_expert["id"]
    assert world.it_expert["id"] in ids(search(client, q="wjg"))


# --- filters and facets -------------------------------------------------------------------------


def test_filters(client, auth_header, world):
    def found(**params: Any) -> set[str]:
        return set(ids(search(client, **params)))

    experts = {world.it_expert["id"], world.building_expert["id"]}
    assert found(kinds="expert") == experts
    assert found(kinds="expert,commodity") == experts | {
        world.printer["id"],
        world.cheap_printer["id"],
    }
    assert found(kinds=["agent", "purchaser"]) == {world.agent["id"], world.school["id"]}
    assert found(within="150200") == {world.jianshe["id"]}
    assert found(within="150103") == {world.qingcheng["id"]}
    assert found(within="150100", kinds="supplier") == {world.mengcao["id"], world.qingcheng["id"]}
    assert found(q="内蒙古", within="150100", kinds="supplier,agent") == {
        world.mengcao["id"],
        world.agent["id"],
    }
    assert found(size="large") == {world.jianshe["id"]}
    assert found(catalog="A0201") == {world.mengcao["id"]}
    assert found(catalog="B01", kinds="supplier") == {world.qingcheng["id"], world.jianshe["id"]}
    assert found(catalog="A02020000") == {world.printer["id"], world.cheap_printer["id"]}
    assert found(specialty="A01") == {world.it_expert["id"]}
    assert found(specialty="b") == {world.building_expert["id"]}
    assert found(price_min="1000", price_max="3000") == {world.printer["id"]}
    assert found(price_max="1000") == {world.cheap_printer["id"]}

    # status and eligibility are the record's current ones (debarment computed now)
    _move(client, auth_header, "supplier", world.qingcheng, "suspend", HUIMIN, reason="整改")
    debarment = {
        "authority": "包头市财政局",
        "legal_basis": "《政府采购法》第七十七条",
        "reason": "提供虚假材料",
        "starts_on": "2026-01-01",
        "ends_on": "2099-12-31",
    }
    r = client.post(
        f"/v1/suppliers/{world.jianshe['id']}/debarments",
        json=debarment,
        headers=auth_header(BAOTOU),
    )
    assert r.status_code == 201, r.text
    suppliers = {world.mengcao["id"], world.qingcheng["id"], world.jianshe["id"]}
    assert found(kinds="supplier", status="suspended") == {world.qingcheng["id"]}
    assert found(kinds="supplier", status=["active", "suspended"]) == suppliers
    assert found(kinds="supplier", eligible="true") == {world.mengcao["id"]}
    assert found(kinds="supplier", eligible="false") == {world.qingcheng["id"], world.jianshe["id"]}


def test_facets_count_every_hit_before_paging(client, world):
    result = search(client, limit=1)
    assert len(result["hits"]) == 1 and result["total"] == 9  # the draft is not public
    assert result["facets"]["kind"] == {
        "supplier": 3,
        "commodity": 2,
        "expert": 2,
        "agent": 1,
        "purchaser": 1,
    }
    # leagues: 150100 呼和浩特市, 150200 包头市, 150000 the autonomous region (commodities)
    assert result["facets"]["region"] == {"150100": 6, "150000": 2, "150200": 1}
    assert result["facets"]["status"] == {"active": 9}
    # 内蒙古 in two suppliers' and the agent's names and the experts' employer
    filtered = search(client, q="内蒙古", limit=1)
    assert filtered["facets"]["kind"] == {"expert": 2, "supplier": 2, "agent": 1}
    assert filtered["facets"]["region"] == {"150100": 4, "150200": 1}
    assert filtered["total"] == 5


@pytest.mark.parametrize("q", [None, "内蒙古", "呼和浩特"])
def test_paging_never_repeats_or_skips(client, auth_header, world, q):
    everything = search(client, ROOT, auth_header, **({"q": q} if q else {}))
    expected = ids(everything)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": 2, **({"q": q} if q else {})}
        if cursor:
            params["cursor"] = cursor
        page = search(client, ROOT, auth_header, **params)
        assert page["total"] == everything["total"]
        seen += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert len(set(seen)) == len(seen) == everything["total"]


# --- visibility and what is indexed -------------------------------------------------------------


def test_a_draft_is_visible_only_to_its_bureaus(client, auth_header, world):
    draft_id = world.draft["id"]
    for q in ("新城草原", "xinchengcaoyuan"):
        assert draft_id not in ids(search(client, q=q)), q  # the public
        assert draft_id not in ids(search(client, HUIMIN, auth_header, q=q))  # another county
        assert draft_id not in ids(search(client, BAOTOU, auth_header, q=q))  # another league
        assert draft_id in ids(search(client, XINCHENG, auth_header, q=q))  # its bureau
        assert draft_id in ids(search(client, HOHHOT, auth_header, q=q))  # the league above
    own = self_service(EntityKind.supplier, draft_id)
    assert draft_id in ids(search(client, own, auth_header, q="新城草原"))  # the entity itself
    assert search(client)["facets"]["status"] == {"active": 9}
    assert search(client, XINCHENG, auth_header)["facets"]["status"] == {"active": 9, "draft": 1}
    suggested = client.get("/v1/search/suggest", params={"q": "呼和浩特市新城"}).json()
    assert draft_id not in [s["id"] for s in suggested]


def test_restricted_values_are_never_indexed(client, auth_header, session, world):
    body = world.expert_body
    supplier = orgdata.supplier()  # the values every test supplier carries
    secrets = [
        body["id_number"],
        body["phone"],
        supplier["legal_representative"]["id_number"],
        supplier["legal_representative"]["phone"],
        supplier["bank_accounts"][0]["account_number"],
        supplier["contacts"][0]["phone"],
        "pd1.",  # nor the ciphertext of personal data
    ]
    rows = [r[0] for r in session.execute(text("SELECT d::text FROM search_documents d")).all()] + [
        r[0] for r in session.execute(text("SELECT o::text FROM search_outbox o")).all()
    ]
    assert len(rows) >= 11
    for secret in secrets:
        assert not [row for row in rows if secret in row], secret
    # not even the managing bureau finds an expert by ID number or phone through search
    for q in (body["id_number"], body["phone"]):
        assert search(client, XINCHENG, auth_header, q=q)["total"] == 0
    # but the public fields are there
    assert world.it_expert["id"] in ids(search(client, q="内蒙古测试大学"))  # employer


def test_a_rename_keeps_the_former_name_searchable(client, auth_header, session, world):
    url = f"/v1/suppliers/{world.mengcao['id']}"
    r = client.patch(
        url,
        json={"name": "内蒙古绿野生态科技股份有限公司"},
        headers={**auth_header(XINCHENG), "If-Match": f'"{world.mengcao["version"]}"'},
    )
    assert r.status_code == 200, r.text
    pending = r.json()["pending_change_request"]
    # a pending change is not in force: search still shows the approved name only
    assert ids(search(client, q="绿野生态")) == []
    r = client.post(
        f"{url}/change-requests/{pending}/approve", headers=auth_header(XINCHENG), json={}
    )
    assert r.status_code == 200, r.text
    renamed = search(client, q="绿野生态")
    assert ids(renamed)[0] == world.mengcao["id"]
    assert renamed["hits"][0]["name"] == "内蒙古绿野生态科技股份有限公司"
    for q in ("蒙草生态环境", "mengcao"):
        former = search(client, q=q)
        assert ids(former)[0] == world.mengcao["id"], q
        assert former["hits"][0]["name"] == "内蒙古绿野生态科技股份有限公司"
    stored = session.execute(
        text("SELECT document -> 'former_names' FROM search_documents WHERE record_id = :id"),
        {"id": world.mengcao["id"]},
    ).scalar_one()
    assert stored == ["内蒙古蒙草生态环境(集团)股份有限公司"]


def test_a_drafts_earlier_names_are_not_kept(client, auth_header, session, world):
    r = client.patch(
        f"/v1/suppliers/{world.draft['id']}",
        json={"name": "呼和浩特市新城牧草科技有限公司"},
        headers={**auth_header(XINCHENG), "If-Match": "*"},
    )
    assert r.status_code == 200, r.text
    assert ids(search(client, XINCHENG, auth_header, q="新城牧草")) == [world.draft["id"]]
    assert ids(search(client, XINCHENG, auth_header, q="新城草原")) == []
    stored = session.execute(
        text("SELECT document -> 'former_names' FROM search_documents WHERE record_id = :id"),
        {"id": world.draft["id"]},
    ).scalar_one()
    assert stored == []


# --- suggest ------------------------------------------------------------------------------------


def suggest(client, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/v1/search/suggest", params=params)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def test_suggest_names_as_you_type(client, world):
    first = suggest(client, q="蒙草")[0]
    assert first == {
        "id": world.mengcao["id"],
        "kind": "supplier",
        "name": "内蒙古蒙草生态环境(集团)股份有限公司",
        "highlight": "内蒙古<em>蒙草</em>生态环境(集团)股份有限公司",
    }
    assert [s["id"] for s in suggest(client, q="mc")][:1] == [world.mengcao["id"]]
    assert [s["id"] for s in suggest(client, q="mengc")][:1] == [world.mengcao["id"]]
    hohhot = [s["id"] for s in suggest(client, q="呼和浩特")]
    assert hohhot[:2] == [world.school["id"], world.qingcheng["id"]]  # shorter names first
    assert [s["id"] for s in suggest(client, q="呼和浩特", kinds="purchaser")] == [
        world.school["id"]
    ]
    assert len(suggest(client, q="内蒙古", limit=2)) == 2
    assert suggest(client, q="不存在的名称") == []


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"q": "蒙" * 101}, 422, "validation_failed"),
        ({"q": "ab\x00cd"}, 422, "validation_failed"),
        ({"within": "15"}, 422, "validation_failed"),
        ({"within": "159999"}, 422, "unknown_region"),
        ({"kinds": "supplier,bogus"}, 422, "validation_failed"),
        ({"status": "nope"}, 422, "validation_failed"),
        ({"catalog": "XYZ"}, 422, "invalid_catalog_code"),
        ({"specialty": "A01-"}, 422, "validation_failed"),
        ({"price_min": "10", "price_max": "5"}, 422, "validation_failed"),
        ({"price_min": "-1"}, 422, "validation_failed"),
        ({"limit": "101"}, 422, "validation_failed"),
        ({"cursor": "not-a-cursor"}, 400, "invalid_cursor"),
        ({"cursor": "WyJOYU4iLCAieCJd"}, 400, "invalid_cursor"),  # ["NaN", "x"]
    ],
)
def test_bad_input_is_a_4xx_problem(client, params, status, code):
    body = assert_problem(client.get("/v1/search", params=params), status, code)
    if status == 422 and code != "validation_failed":
        assert body["errors"][0]["field"] in params


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 51}, {"q": "蒙", "limit": "0"}])
def test_bad_suggest_input_is_422(client, params):
    assert_problem(client.get("/v1/search/suggest", params=params), 422, "validation_failed")


# --- every write path keeps the document current ------------------------------------------------


def _document(session, record_id: str) -> dict[str, Any] | None:
    row = session.execute(
        text(
            "SELECT status, published, version, name, document, price FROM search_documents"
            " WHERE record_id = :id"
        ),
        {"id": record_id},
    ).first()
    return dict(row._mapping) if row else None


def _outbox(session, record_id: str) -> list[tuple[int, str]]:
    return [
        (r[0], r[1])
        for r in session.execute(
            text("SELECT version, op FROM search_outbox WHERE record_id = :id ORDER BY seq"),
            {"id": record_id},
        ).all()
    ]


def test_every_write_path_refreshes_the_document(client, auth_header, session):
    # register
    sup = _create(
        client, auth_header, "supplier", orgdata.supplier(name="甲乙丙科技有限公司"), XINCHENG
    )
    doc = _document(session, sup["id"])
    assert doc is not None
    assert (doc["status"], doc["published"], doc["version"]) == ("draft", False, 1)
    assert _outbox(session, sup["id"]) == [(1, "upsert")]
    # edit (a draft changes at once)
    r = client.patch(
        f"/v1/suppliers/{sup['id']}",
        json={"name": "甲乙丙丁科技有限公司"},
        headers={**auth_header(XINCHENG), "If-Match": "*"},
    )
    assert r.status_code == 200, r.text
    assert _document(session, sup["id"])["name"] == "甲乙丙丁科技有限公司"  # type: ignore[index]
    # transitions
    _move(client, auth_header, "supplier", sup, "submit", XINCHENG)
    assert _document(session, sup["id"])["status"] == "submitted"  # type: ignore[index]
    active = _move(client, auth_header, "supplier", sup, "approve", XINCHENG)
    doc = _document(session, sup["id"])
    assert doc is not None and (doc["status"], doc["published"]) == ("active", True)
    # a change request changes nothing in force until it is approved
    r = client.patch(
        f"/v1/suppliers/{sup['id']}",
        json={"address": "赛罕区敕勒川大街 9 号"},
        headers={**auth_header(XINCHENG), "If-Match": f'"{active["version"]}"'},
    )
    assert r.status_code == 200, r.text
    before = _outbox(session, sup["id"])
    assert "address" not in doc["document"]["data"] or doc["document"]["data"]["address"] != (
        "赛罕区敕勒川大街 9 号"
    )
    assert _document(session, sup["id"]) == doc
    assert ids(search(client, q="敕勒川")) == []
    r = client.post(
        f"/v1/suppliers/{sup['id']}/change-requests/{r.json()['pending_change_request']}/approve",
        headers=auth_header(XINCHENG),
    )
    assert r.status_code == 200, r.text
    doc = _document(session, sup["id"])
    assert doc is not None and doc["document"]["data"]["address"] == "赛罕区敕勒川大街 9 号"
    assert ids(search(client, q="敕勒川")) == [sup["id"]]
    after = _outbox(session, sup["id"])
    assert len(after) == len(before) + 1 and after[-1] == (doc["version"], "upsert")
    versions = [v for v, _ in after]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

    # offers: the commodity's document counts them and knows the lowest price
    com = _approved(client, auth_header, "commodity", orgdata.commodity(), ROOT)
    assert _document(session, com["id"])["document"]["offers"] == {  # type: ignore[index]
        "count": 0,
        "lowest_price": None,
    }
    r = client.post(
        f"/v1/commodities/{com['id']}/offers",
        json={"supplier_id": sup["id"], "price": "2199.00", "valid_from": "2026-01-01"},
        headers=auth_header(XINCHENG),
    )
    assert r.status_code == 201, r.text
    assert _document(session, com["id"])["document"]["offers"] == {  # type: ignore[index]
        "count": 1,
        "lowest_price": "2199.00",
    }
    r = client.post(
        f"/v1/commodities/{com['id']}/offers/{r.json()['id']}/withdraw",
        headers=auth_header(XINCHENG),
    )
    assert r.status_code == 200, r.text
    assert _document(session, com["id"])["document"]["offers"]["count"] == 0  # type: ignore[index]


def test_an_unchanged_document_is_not_rewritten_and_a_debarment_is_a_dated_fact(
    client, auth_header, session
):
    sup = _approved(client, auth_header, "supplier", orgdata.supplier(), XINCHENG)
    before = _outbox(session, sup["id"])
    # a contact's phone is restricted: not in the document, so nothing to re-index
    contacts = [{"name": "李娜", "phone": "13800000001"}]
    r = client.patch(
        f"/v1/suppliers/{sup['id']}",
        json={"contacts": contacts},
        headers={**auth_header(XINCHENG), "If-Match": "*"},
    )
    assert r.status_code == 200, r.text
    assert _outbox(session, sup["id"]) == before
    # a debarment changes the dated facts eligibility depends on (one new version), not an
    # "eligible" flag: the engine needs the periods, as eligibility changes with the date
    debarment = {
        "authority": "新城区财政局",
        "legal_basis": "《政府采购法》第七十七条",
        "reason": "提供虚假材料",
        "starts_on": "2026-01-01",
        "ends_on": "2029-12-31",
    }
    r = client.post(
        f"/v1/suppliers/{sup['id']}/debarments", json=debarment, headers=auth_header(XINCHENG)
    )
    assert r.status_code == 201, r.text
    version = before[-1][0]
    assert _outbox(session, sup["id"]) == [*before, (version + 1, "upsert")]
    doc = _document(session, sup["id"])
    assert doc is not None
    assert doc["document"]["eligibility"] == {
        "term_ends_on": None,
        "debarred": [["2026-01-01", "2029-12-31"]],
    }
    assert ids(search(client, q=sup["data"]["name"], eligible="false")) == [sup["id"]]
    assert ids(search(client, q=sup["data"]["name"], eligible="true")) == []


def test_the_backend_protocol_delete_and_upsert(client, auth_header, session, settings):
    from search.backend import get_backend
    from search.documents import build_document
    from search.postgres import PostgresBackend

    assert isinstance(get_backend(settings), PostgresBackend)
    # the engine backend (not connected until its first search) writes the same documents
    backend = get_backend(settings.model_copy(update={"elasticsearch_url": "http://es:9200"}))
    from search.engine_query import EngineBackend

    assert isinstance(backend, EngineBackend)
    sup = _approved(client, auth_header, "supplier", orgdata.supplier(), XINCHENG)
    version = _document(session, sup["id"])["version"]  # type: ignore[index]
    backend.delete(session, sup["id"])
    assert _document(session, sup["id"]) is None
    assert _outbox(session, sup["id"])[-1] == (version + 1, "delete")
    assert ids(search(client, q=sup["data"]["name"])) == []
    from models.organization import Organization

    org = session.get(Organization, sup["id"])
    backend.upsert(session, build_document(org))
    assert ids(search(client, q=sup["data"]["name"])) == [sup["id"]]
    assert _outbox(session, sup["id"])[-1] == (1, "upsert")


def test_backfill_builds_the_missing_documents(client, auth_header, session):
    """Migration 0004 builds the documents of records written before it with `backfill`."""
    from search.documents import backfill

    sup = _approved(client, auth_header, "supplier", orgdata.supplier(), XINCHENG)
    com = _approved(client, auth_header, "commodity", orgdata.commodity(), ROOT)
    query = text(
        "SELECT record_id, kind, status, published, name, document, identifiers, codes, size,"
        " price, terms, folded, analyzer_version FROM search_documents ORDER BY record_id"
    )
    built = session.execute(query).all()
    session.execute(text("DELETE FROM search_documents"))
    assert backfill(session.connection()) == 2
    assert session.execute(query).all() == built
    assert backfill(session.connection()) == 0  # only what is missing
    assert {sup["id"], com["id"]} == {r[0] for r in built}
