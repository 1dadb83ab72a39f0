"""API keys (401 / 403), the keys CLI, health, readiness, metrics, and 503 when Cassandra is gone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_missing_malformed_unknown_and_revoked_keys_are_401(client, api_keys):
    params = {"type": "email", "value": "a.b@c-ucid.org"}
    for headers, reason in [
        ({"X-API-Key": ""}, "missing API key"),
        ({"X-API-Key": "letmein"}, "malformed API key"),
        ({"X-API-Key": "ucid_0123456789abcdef_" + "x" * 43}, "unknown API key"),
        ({"X-API-Key": api_keys["revoked"]}, "revoked"),
        ({"X-API-Key": api_keys["all"][:-2] + "zz"}, "unknown API key"),
    ]:
        r = client.get("/v1/resolve", params=params, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"] == "unauthorized" and reason in r.json()["detail"]
        assert r.headers["www-authenticate"].startswith("ApiKey")


def test_a_key_without_the_scope_is_403(client, api_keys, serving_data):
    headers = {"X-API-Key": api_keys["resolve"]}
    id_type, raw, _, ucid = serving_data.sample[0]
    assert client.get("/v1/resolve", params={"type": id_type, "value": raw}, headers=headers).status_code == 200
    r = client.get(f"/v1/profiles/{ucid}", headers=headers)
    assert r.status_code == 403
    assert r.json() == {"error": "forbidden", "detail": r.json()["detail"]}
    assert "lacks scope 'profile:read'" in r.json()["detail"]


def test_keys_cli_creates_lists_and_revokes(client, serving_data):
    env = {**os.environ, "UCID_CASSANDRA_KEYSPACE": serving_data.keyspace}
    cli = [sys.executable, "-m", "ucid.cli", "keys"]
    made = subprocess.run([*cli, "create", "--name", "it-cli", "--scope", "explain"], env=env,
                          capture_output=True, text=True, check=True)
    token = made.stdout.strip()
    key_id = token.split("_")[1]
    listed = subprocess.run([*cli, "list"], env=env, capture_output=True, text=True, check=True).stdout
    assert key_id in listed and "it-cli" in listed and token not in listed
    headers = {"X-API-Key": token}
    assert client.get("/v1/resolve", params={"type": "email", "value": "x@y-ucid.org"}, headers=headers).status_code == 403
    subprocess.run([*cli, "revoke", key_id], env=env, check=True, capture_output=True)
    assert client.get("/v1/noop", headers=headers).status_code == 401
    bad = subprocess.run([*cli, "create", "--name", "x", "--scope", "admin"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown scope" in bad.stderr


def test_health_ready_and_metrics(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["cassandra"] and body["schema_version"] >= 3
    assert body["speed_layer_table"] is True
    client.get("/v1/noop")
    text = client.get("/metrics").text
    assert 'ucid_serving_requests_total{method="GET",route="/v1/noop",status="200"}' in text
    assert "ucid_serving_request_seconds_bucket" in text


def test_cassandra_unreachable_answers_503_with_retry_advice(api_keys, serving_data):
    from fastapi.testclient import TestClient

    from infra.settings import CassandraSettings, ServingSettings
    from serving.app import create_app

    nowhere = CassandraSettings(keyspace=serving_data.keyspace, port=1, contact_points=["127.0.0.1"])
    app = create_app(ServingSettings(reconnect_interval_s=60), cassandra=nowhere)
    with TestClient(app, headers={"X-API-Key": api_keys["all"]}) as c:
        assert c.get("/health").status_code == 200
        ready = c.get("/ready")
        assert ready.status_code == 503 and ready.headers["retry-after"] == "2"
        r = c.get("/v1/resolve", params={"type": "email", "value": "a.b@c-ucid.org"})
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.json()["error"] == "unavailable" and "retry in 2 s" in r.json()["detail"]
