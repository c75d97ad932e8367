"""Cross-site and DNS-rebinding protection, over real sockets (the in-process Swift tests cannot set a Host header).
Each test runs against `runledger serve` and against a real `mlflow server`: MLflow 3's security middleware is the bar
(RunLedger may be stricter, never looser)."""
import uuid

import requests

CREATE = "/api/2.0/mlflow/experiments/create"
GET_BY_NAME = "/api/2.0/mlflow/experiments/get-by-name"


def exists(server, name):
    response = requests.get(server.url + GET_BY_NAME, params={"experiment_name": name}, timeout=30)
    return response.status_code == 200


def test_a_foreign_host_is_refused_for_reads_and_writes(server):
    name = "rebound-" + uuid.uuid4().hex[:8]
    headers = {"Host": "evil.example:5000"}
    read = requests.get(server.url + "/api/2.0/mlflow/experiments/search", params={"max_results": 5}, headers=headers, timeout=30)
    assert read.status_code in (400, 403), read.text
    write = requests.post(server.url + CREATE, json={"name": name}, headers=headers, timeout=30)
    assert write.status_code in (400, 403), write.text
    assert not exists(server, name)
    if server.name == "runledger":
        assert write.json()["error_code"] == "INVALID_HOST"
    # The names the server is reached by still work.
    for host in ("localhost", "127.0.0.1", "localhost:" + server.url.rsplit(":", 1)[1]):
        ok = requests.get(server.url + "/api/2.0/mlflow/experiments/search", params={"max_results": 5}, headers={"Host": host}, timeout=30)
        assert ok.status_code == 200, (host, ok.text)


def test_a_write_from_another_origin_is_refused_and_changes_nothing(server):
    name = "cross-site-" + uuid.uuid4().hex[:8]
    response = requests.post(server.url + CREATE, json={"name": name}, headers={"Origin": "https://evil.example"}, timeout=30)
    assert response.status_code in (400, 403), response.text
    assert not exists(server, name)
    if server.name == "runledger":
        assert response.json()["error_code"] == "CROSS_ORIGIN_REQUEST_REFUSED"


def test_simple_requests_a_page_can_send_without_preflight_do_not_write(server):
    # A form post or a text/plain body needs no CORS preflight, so a page can send it blind.
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        name = "simple-" + uuid.uuid4().hex[:8]
        body = '{"name": "%s"}' % name
        response = requests.post(server.url + CREATE, data=body, headers={"Content-Type": content_type, "Origin": "https://evil.example"}, timeout=30)
        assert response.status_code in (400, 403, 415), response.text
        assert not exists(server, name)
        if server.name == "runledger":
            # Without an Origin (a page in an old browser, a proxy that strips it) the media type alone refuses it.
            bare = requests.post(server.url + CREATE, data=body, headers={"Content-Type": content_type}, timeout=30)
            assert bare.status_code == 415 and bare.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE", bare.text
            assert not exists(server, name)


def test_the_servers_own_origin_and_originless_clients_still_write(server):
    name = "own-" + uuid.uuid4().hex[:8]
    response = requests.post(server.url + CREATE, json={"name": name}, headers={"Origin": server.url}, timeout=30)
    assert response.status_code == 200, response.text
    assert exists(server, name)
