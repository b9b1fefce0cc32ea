"""The test search engine: a real OpenSearch 2.19 node that the tests start themselves.

Skipped (with the reason) where Java 17+ or Maven is missing — except in CI (`CI=true`, as
`.ci/run` is run) or with REGISTRY_REQUIRE_ENGINE=1, where a missing engine is a failure.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from search.testing import (
    EngineError,
    EngineUnavailable,
    java_and_maven_available,
    start_opensearch,
)
from tests.conftest import engine_or_skip

INDEX = "registry-items"


INDEX_BODY = {
    "settings": {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "analysis": {
            "tokenizer": {
                # codes and names split on blanks and the separators used in codes
                "code_split": {"type": "pattern", "pattern": r"[\s\-_/.,;:]+"},
            },
            "filter": {
                "prefixes": {"type": "edge_ngram", "min_gram": 1, "max_gram": 12},
            },
            "analyzer": {
                "prefix_index": {
                    "type": "custom",
                    "tokenizer": "code_split",
                    "filter": ["lowercase", "prefixes"],
                },
                "prefix_search": {
                    "type": "custom",
                    "tokenizer": "code_split",
                    "filter": ["lowercase"],
                },
            },
        },
    },
    "mappings": {
        "properties": {
            "code": {"type": "keyword"},
            "name": {
                "type": "text",
                "analyzer": "prefix_index",
                "search_analyzer": "prefix_search",
            },
            "kind": {"type": "keyword"},
            "region": {"type": "keyword"},
            "price": {"type": "scaled_float", "scaling_factor": 100},  # mapper-extras
        }
    },
}

DOCS = {
    "1": (
        5,
        {
            "code": "A01-0203",
            "name": "Office Paper A4",
            "kind": "goods",
            "region": "150100",
            "price": 25.5,
        },
    ),
    "2": (
        6,
        {
            "code": "B02-11",
            "name": "Office Furniture Repair",
            "kind": "services",
            "region": "150200",
            "price": 300,
        },
    ),
    "3": (
        7,
        {
            "code": "A01-0301",
            "name": "Printer Toner Cartridge",
            "kind": "goods",
            "region": "150100",
            "price": 88,
        },
    ),
}


def _ok(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), f"{response.request.url}: {response.text}"
    return response.json()


def test_real_opensearch_node(tmp_path: Path) -> None:
    engine_or_skip(local=True)
    engine = start_opensearch(tmp_path)
    try:
        assert engine.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=engine.url, timeout=30.0, trust_env=False) as es:
            root = _ok(es.get("/"))
            assert root["version"]["distribution"] == "opensearch"
            assert root["version"]["number"].startswith("2.19.")
            assert root["cluster_name"] == "registry-test"
            # loopback only, for HTTP and for the transport
            node = next(iter(_ok(es.get("/_nodes/_local/http,transport"))["nodes"].values()))
            for section in ("http", "transport"):
                for address in node[section]["bound_address"]:
                    assert address.startswith(("127.0.0.1:", "[::1]:")), (section, address)

            _ok(es.put(f"/{INDEX}", json=INDEX_BODY))
            tokens = _ok(
                es.post(
                    f"/{INDEX}/_analyze",
                    json={"analyzer": "prefix_index", "text": "A01-0203 Paper"},
                )
            )
            assert [t["token"] for t in tokens["tokens"]][:4] == ["a", "a0", "a01", "0"]
            assert "pap" in {t["token"] for t in tokens["tokens"]}

            # external versioning: the registry's change sequence decides which write wins
            for doc_id, (version, doc) in DOCS.items():
                params: dict[str, str | int] = {"version": version, "version_type": "external"}
                result = _ok(es.put(f"/{INDEX}/_doc/{doc_id}", params=params, json=doc))
                assert result["_version"] == version
            stale = es.put(
                f"/{INDEX}/_doc/1",
                params={"version": 4, "version_type": "external"},
                json={**DOCS["1"][1], "name": "stale"},
            )
            assert stale.status_code == 409, stale.text
            assert stale.json()["error"]["type"] == "version_conflict_engine_exception"
            same = es.put(
                f"/{INDEX}/_doc/1",
                params={"version": 5, "version_type": "external"},
                json={**DOCS["1"][1], "name": "stale"},
            )
            assert same.status_code == 409, same.text
            _ok(es.post(f"/{INDEX}/_refresh"))

            # match query on prefixes ("off" → both "Office …" items)
            found = _ok(es.post(f"/{INDEX}/_search", json={"query": {"match": {"name": "off"}}}))
            hits = found["hits"]
            assert hits["total"]["value"] == 2
            assert {h["_id"] for h in hits["hits"]} == {"1", "2"}
            assert all(h["_source"]["name"] != "stale" for h in hits["hits"])

            # bool: match + terms filter, a terms aggregation and highlighting
            body = {
                "query": {
                    "bool": {
                        "must": [{"match": {"name": "off pap"}}],
                        "filter": [{"terms": {"kind": ["goods"]}}],
                    }
                },
                "aggs": {"by_kind": {"terms": {"field": "kind"}}},
                "highlight": {"fields": {"name": {}}},
            }
            result = _ok(es.post(f"/{INDEX}/_search", json=body))
            assert [h["_id"] for h in result["hits"]["hits"]] == ["1"]
            highlight = result["hits"]["hits"][0]["highlight"]["name"][0]
            assert "<em>Office</em>" in highlight and "<em>Paper</em>" in highlight
            assert result["aggregations"]["by_kind"]["buckets"] == [
                {"key": "goods", "doc_count": 1}
            ]
            all_kinds = _ok(
                es.post(
                    f"/{INDEX}/_search",
                    json={"size": 0, "aggs": {"by_kind": {"terms": {"field": "kind"}}}},
                )
            )
            buckets = {
                b["key"]: b["doc_count"] for b in all_kinds["aggregations"]["by_kind"]["buckets"]
            }
            assert buckets == {"goods": 2, "services": 1}

            # painless and reindex are there too
            script = {
                "query": {"ids": {"values": ["3"]}},
                "script_fields": {
                    "net": {
                        "script": {"source": "doc['price'].value * params.f", "params": {"f": 2}}
                    }
                },
            }
            fields = _ok(es.post(f"/{INDEX}/_search", json=script))["hits"]["hits"][0]["fields"]
            assert fields["net"] == [176.0]
            copied = _ok(
                es.post(
                    "/_reindex",
                    params={"refresh": "true"},
                    json={"source": {"index": INDEX}, "dest": {"index": "copy"}},
                )
            )
            assert copied["created"] == 3

        pid = engine.pid
        assert engine.stop() in (0, 143)  # 143: ended by SIGTERM after a clean close
        assert not engine.running()
        assert "REGISTRY-SEARCH-ENGINE stopped" in engine.log_path.read_text(errors="replace")
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        engine.stop()


def test_failed_start_is_reported_with_the_log(tmp_path: Path) -> None:
    engine_or_skip(local=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EngineError) as failure:
            start_opensearch(tmp_path, port=port, timeout=120)
    message = str(failure.value)
    assert "last lines of" in message
    assert "BindException" in message or "Address already in use" in message, message


def test_unavailable_without_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn
    ok, reason = java_and_maven_available()
    assert not ok
    assert "java" in reason
    with pytest.raises(EngineUnavailable):
        start_opensearch(tmp_path)
