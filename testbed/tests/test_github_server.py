"""The GitHub REST stand-in (testbed/github/server.py) answers as GitHub does: paths
under /api/v3, /repositories/{id} next links, exact error bodies, rate limits and faults."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[1] / "github" / "server.py"


@pytest.fixture()
def gh():
    proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0"], stdout=subprocess.PIPE, text=True)
    base = proc.stdout.readline().strip()
    yield base
    proc.kill()
    proc.wait()


def call(url, method="GET", body=None, token="test-token", headers=None):
    h = {"User-Agent": "pytest", "Accept": "application/vnd.github+json"}
    if token:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, dict(e.headers), json.loads(raw)
        except ValueError:
            return e.code, dict(e.headers), raw.decode()


def control(base, path, body):
    root = base.rsplit("/api/v3", 1)[0]
    return call(f"{root}/_testbed/{path}", "POST", body)


def test_serves_under_api_v3_only(gh):
    assert gh.endswith("/api/v3")
    root = gh.rsplit("/api/v3", 1)[0]
    assert call(f"{root}/repos/o/r/issues/1/comments")[0] == 404
    assert call(f"{gh}/repos/o/r/issues/1/comments")[0] == 200


def test_next_links_use_the_repository_id_and_carry_prev_and_first(gh):
    for i in range(3):
        control(gh, "comments", {"issue": 1, "body": f"c{i}"})
    status, headers, page1 = call(f"{gh}/repos/o/r/issues/1/comments?per_page=2")
    assert status == 200 and len(page1) == 2
    link = headers["link"]
    assert f'<{gh}/repositories/4242/issues/1/comments?per_page=2&page=2>; rel="next"' in link
    status, headers, page2 = call(f"{gh}/repositories/4242/issues/1/comments?per_page=2&page=2")
    assert [c["body"] for c in page2] == ["c2"]
    assert 'rel="prev"' in headers["link"] and 'rel="first"' in headers["link"] and 'rel="next"' not in headers["link"]


def test_credentials_and_headers_are_checked(gh):
    assert call(f"{gh}/user", token=None)[2]["message"] == "Requires authentication"
    assert call(f"{gh}/user", token="wrong")[2]["message"] == "Bad credentials"
    status, _, body = call(f"{gh}/user")
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    assert call(f"{gh}/user", token="pat-token")[2]["login"] == "deployer"
    assert call(f"{gh}/user", headers={"X-GitHub-Api-Version": "2020-01-01"})[0] == 400


def test_locked_read_only_and_too_long_answers(gh):
    control(gh, "locked", {"issue": 2})
    status, _, body = call(f"{gh}/repos/o/r/issues/2/comments", "POST", {"body": "x"})
    assert (status, body["message"]) == (403, "Unable to create comment because issue is locked.")
    status, _, body = call(f"{gh}/repos/o/r/issues/3/comments", "POST", {"body": "x"}, token="read-only-token")
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    status, _, body = call(f"{gh}/repos/o/r/issues/3/comments", "POST", {"body": "x" * 65537})
    assert status == 422 and body["errors"][0] == {
        "resource": "IssueComment", "code": "unprocessable", "field": "data",
        "message": "Body is too long (maximum is 65536 characters)"}


def test_faults_and_secondary_rate_limits(gh):
    control(gh, "faults", {"path": "issues/4/comments", "kind": "secondary", "headers": {"retry-after": "1"}})
    control(gh, "faults", {"method": "POST", "path": "issues/4/comments", "status": 502, "apply": True})
    status, headers, body = call(f"{gh}/repos/o/r/issues/4/comments")
    assert status == 403 and headers["retry-after"] == "1" and "secondary rate limit" in body["message"]
    assert call(f"{gh}/repos/o/r/issues/4/comments", "POST", {"body": "x"})[0] == 502
    # The failed POST took effect: GitHub had created the comment.
    assert [c["body"] for c in call(f"{gh}/repos/o/r/issues/4/comments")[2]] == ["x"]


def test_commit_pulls_lag_and_list_open_pull_requests(gh):
    control(gh, "pulls", {"number": 7, "merged": True, "merge_commit_sha": "abc", "lag": 1})
    control(gh, "pulls", {"number": 8, "head_sha": "abc"})
    assert [p["number"] for p in call(f"{gh}/repos/o/r/commits/abc/pulls")[2]] == [8]
    pulls = call(f"{gh}/repos/o/r/commits/abc/pulls")[2]
    assert sorted(p["number"] for p in pulls) == [7, 8]
    assert {p["number"]: p["merged_at"] is not None for p in pulls} == {7: True, 8: False}


def test_labels_and_minimized_comments(gh):
    assert call(f"{gh}/repos/o/r/issues/5/labels", "POST", {"labels": ["capsule:destroy"]})[0] == 200
    status, _, body = call(f"{gh}/repos/o/r/issues/5/labels/capsule%3Ano-changes", "DELETE")
    assert (status, body["message"]) == (404, "Label does not exist")
    control(gh, "comments", {"issue": 5, "body": "hidden", "minimized": True})
    node = call(f"{gh}/repos/o/r/issues/5/comments")[2][0]["node_id"]
    root = gh.rsplit("/api/v3", 1)[0]
    out = call(f"{root}/api/graphql", "POST", {"query": "q", "variables": {"ids": [node]}})[2]
    assert out == {"data": {"nodes": [{"id": node, "isMinimized": True}]}}


def test_issues_are_created_listed_newest_first_with_pull_requests_and_closed(gh):
    control(gh, "pulls", {"number": 1, "head_sha": "abc"})
    status, headers, issue = call(f"{gh}/repos/o/r/issues", "POST", {"title": "drift", "body": "b", "labels": ["capsule:drift"]})
    assert status == 201 and issue["number"] == 2 and headers["location"] == issue["url"]
    assert issue["user"]["login"] == "github-actions[bot]" and issue["state"] == "open"
    assert [l["name"] for l in issue["labels"]] == ["capsule:drift"] and "pull_request" not in issue
    # GitHub lists pull requests among issues: only `pull_request` tells them apart.
    status, _, listed = call(f"{gh}/repos/o/r/issues")
    assert [i["number"] for i in listed] == [2, 1] and "pull_request" in listed[1]
    assert [i["number"] for i in call(f"{gh}/repos/o/r/issues?labels=capsule:drift")[2]] == [2]
    status, _, closed = call(f"{gh}/repos/o/r/issues/2", "PATCH", {"state": "closed", "state_reason": "completed"})
    assert status == 200 and closed["state"] == "closed" and closed["state_reason"] == "completed" and closed["closed_at"]
    assert [i["number"] for i in call(f"{gh}/repos/o/r/issues")[2]] == [1]
    assert [i["number"] for i in call(f"{gh}/repos/o/r/issues?state=all")[2]] == [2, 1]
    _, _, comment = call(f"{gh}/repos/o/r/issues/2/comments", "POST", {"body": "gone"})
    assert "/issues/2#issuecomment-" in comment["html_url"]


def test_issue_listing_pages_and_errors_as_github_does(gh):
    for i in range(3):
        control(gh, "issues", {"title": f"t{i}"})
    status, headers, page1 = call(f"{gh}/repos/o/r/issues?state=open&per_page=2")
    assert status == 200 and len(page1) == 2
    assert '/repositories/4242/issues?state=open&per_page=2&page=2>; rel="next"' in headers["link"]
    assert call(f"{gh}/repos/o/r/issues", "POST", {"body": "no title"})[0] == 422
    assert call(f"{gh}/repos/o/r/issues", "POST", {"title": "t", "body": "x" * 65537})[0] == 422
    assert call(f"{gh}/repos/o/r/issues", "POST", {"title": "t"}, token="read-only-token")[0] == 403
    assert call(f"{gh}/repos/o/r/issues/1", "PATCH", {"state": "shut"})[0] == 422
    assert call(f"{gh}/repos/o/r/issues/99")[0] == 404


def test_deployments_need_auto_merge_off_and_explicit_contexts_and_statuses_are_checked(gh):
    url = f"{gh}/repos/o/r/deployments"
    # GitHub's defaults: auto_merge merges the default branch in (202, no deployment) ...
    status, _, body = call(url, "POST", {"ref": "abc123", "environment": "pr-7"})
    assert status == 202 and "id" not in body
    # ... and required_contexts verifies every check, the running job's own included.
    status, _, body = call(url, "POST", {"ref": "abc123", "environment": "pr-7", "auto_merge": False})
    assert status == 409 and body["message"].startswith("Conflict: Commit status checks failed")
    ok = {"ref": "abc123", "environment": "pr-7", "auto_merge": False, "required_contexts": [], "transient_environment": True}
    status, _, first = call(url, "POST", ok)
    assert status == 201 and first["environment"] == "pr-7" and first["statuses_url"].endswith(f"/deployments/{first['id']}/statuses")
    assert first["production_environment"] is False
    statuses = f"{url}/{first['id']}/statuses"
    assert call(statuses, "POST", {"state": "done"})[0] == 422
    assert call(statuses, "POST", {"state": "success", "description": "x" * 141})[0] == 422
    assert call(statuses, "POST", {"state": "success", "environment_url": "https://pr-7.example.com"})[0] == 201
    # A second successful deployment of the environment makes the first inactive (auto_inactive).
    _, _, second = call(url, "POST", dict(ok, ref="def456"))
    call(f"{url}/{second['id']}/statuses", "POST", {"state": "success"})
    _, _, listed = call(statuses)
    assert [s["state"] for s in listed] == ["inactive", "success"]
    _, _, mine = call(f"{url}?environment=pr-7&per_page=1")
    assert [d["id"] for d in mine] == [second["id"]], "newest first, paged"
    assert call(f"{url}/99999/statuses", "POST", {"state": "success"})[0] == 404
