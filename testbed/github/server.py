#!/usr/bin/env python3
"""A local stand-in of the GitHub REST API for capsule's tests and demo: the endpoints
capsule uses, with GitHub's paths, JSON shapes, headers and failures (DESIGN section 7).
Standard library only. State lives in memory; `/_testbed/*` reads and seeds it.

Usage: server.py [--port 0] [--base-path /api/v3]; prints the API base URL on stdout
once it listens. What it models is listed in testbed/README.md ("GitHub").
"""

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

OWNER, REPO, REPO_ID = "o", "r", 4242
DOCS = "https://docs.github.com/rest"
API_VERSIONS = {"2022-11-28", "2026-03-10"}
# token -> who it is. `test-token` is a workflow's GITHUB_TOKEN (an app installation:
# GET /user is refused); `pat-token` a person's token; `read-only-token` a fork's.
TOKENS = {
    "test-token": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot", "app": True, "write": True},
    "pat-token": {"login": "deployer", "id": 7001, "type": "User", "app": False, "write": True},
    "read-only-token": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot", "app": True, "write": False},
}
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222:3333."
)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.comments = []  # dicts: id, issue, body, login, type, minimized
        self.next_id = 1000
        self.requests = []  # [method, path, query]
        self.pulls = {}  # number -> dict (see seed_pull)
        self.locked = set()  # issue numbers
        self.labels = {}  # issue -> [names]
        self.faults = []  # dicts: method, path (regex), status, headers, body, times, apply
        self.deployments = []
        self.deployment_statuses = []
        self.issues = {}  # number -> dict: number, title, body, login, id_user, type, state, state_reason, ...

    def next_number(self):
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        used = set(self.pulls) | set(self.issues) | {c["issue"] for c in self.comments} | set(self.labels)
        return max(used, default=0) + 1


STATE = State()


def user_json(who):
    return {"login": who["login"], "id": who["id"], "node_id": f"U_{who['id']}", "type": who["type"],
            "site_admin": False, "html_url": f"https://github.com/{who['login']}"}


def comment_json(base, c):
    return {
        "id": c["id"], "node_id": f"IC_{c['id']}",
        "url": f"{base}/repos/{OWNER}/{REPO}/issues/comments/{c['id']}",
        "html_url": f"https://github.com/{OWNER}/{REPO}/{'issues' if c['issue'] in STATE.issues else 'pull'}/{c['issue']}#issuecomment-{c['id']}",
        "issue_url": f"{base}/repos/{OWNER}/{REPO}/issues/{c['issue']}",
        "body": c["body"], "user": user_json({"login": c["login"], "id": c["id_user"], "type": c["type"]}), "created_at": c["created_at"], "updated_at": c["updated_at"],
        "author_association": "NONE" if c["type"] == "Bot" else "MEMBER",
    }


def pull_json(base, p):
    merged = p.get("merged", False)
    return {
        "url": f"{base}/repos/{OWNER}/{REPO}/pulls/{p['number']}", "id": 100000 + p["number"],
        "node_id": f"PR_{p['number']}", "number": p["number"],
        "html_url": f"https://github.com/{OWNER}/{REPO}/pull/{p['number']}",
        "state": "closed" if merged or p.get("closed") else "open", "locked": p["number"] in STATE.locked,
        "title": p.get("title", "A change"), "user": user_json(TOKENS["pat-token"]),
        "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-29T00:00:00Z",
        "closed_at": "2026-11-29T00:00:00Z" if merged or p.get("closed") else None,
        "merged_at": "2026-11-29T00:00:00Z" if merged else None,
        "merge_commit_sha": p.get("merge_commit_sha"), "draft": False,
        "head": {"ref": "feature", "sha": p.get("head_sha", "feedface"), "repo": {"full_name": f"{OWNER}/{REPO}"}},
        "base": {"ref": "main", "sha": "cafebabe", "repo": {"full_name": f"{OWNER}/{REPO}"}},
        "author_association": "MEMBER",
    }


def issue_json(base, i):
    """An issue as GET /repos/{o}/{r}/issues/{n} returns it."""
    n = i["number"]
    return {
        "url": f"{base}/repos/{OWNER}/{REPO}/issues/{n}", "id": 200000 + n, "node_id": f"I_{n}", "number": n,
        "html_url": f"https://github.com/{OWNER}/{REPO}/issues/{n}", "title": i["title"], "body": i["body"],
        "user": user_json({"login": i["login"], "id": i["id_user"], "type": i["type"]}),
        "labels": [label_json(name) for name in STATE.labels.get(n, [])], "state": i["state"],
        "state_reason": i["state_reason"], "locked": n in STATE.locked,
        "comments": sum(1 for c in STATE.comments if c["issue"] == n),
        "created_at": i["created_at"], "updated_at": i["updated_at"], "closed_at": i["closed_at"],
        "author_association": "NONE" if i["type"] == "Bot" else "MEMBER",
    }


def pull_as_issue(base, p):
    """A pull request in the issues listing: GitHub lists both, the pull request with `pull_request`."""
    out = {k: v for k, v in pull_json(base, p).items() if k not in ("head", "base", "merge_commit_sha", "merged_at", "draft")}
    out["url"] = f"{base}/repos/{OWNER}/{REPO}/issues/{p['number']}"
    out["body"] = p.get("body", "")
    out["labels"] = [label_json(name) for name in STATE.labels.get(p["number"], [])]
    out["pull_request"] = {"url": f"{base}/repos/{OWNER}/{REPO}/pulls/{p['number']}",
                           "html_url": f"https://github.com/{OWNER}/{REPO}/pull/{p['number']}"}
    return out


def label_json(name):
    return {"id": abs(hash(name)) % 10**9, "node_id": f"LA_{name}", "url": f"https://api.github.com/repos/{OWNER}/{REPO}/labels/{quote(name)}",
            "name": name, "color": "ededed", "default": False, "description": None}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Reply(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error(status, message, doc=DOCS, **extra):
    return Reply(status, {"message": message, "documentation_url": doc, "status": str(status), **extra})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"

    def log_message(self, *args):  # quiet: the tests read /_testbed/state
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    # -- plumbing -------------------------------------------------------------------
    def dispatch(self, method):
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.send(400, {"message": "Problems parsing JSON", "documentation_url": DOCS, "status": "400"})
        if url.path.startswith("/_testbed/"):
            return self.control(method, url.path, body)
        base_path = self.server.base_path
        path = url.path
        if base_path == "/api/v3" and path == "/api/graphql":  # GitHub Enterprise's GraphQL
            path = base_path + "/graphql"
        if base_path:
            if not path.startswith(base_path + "/"):
                return self.send(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
            path = path[len(base_path):]
        with STATE.lock:
            STATE.requests.append([method, path, url.query])
        try:
            who = self.check_headers()
            fault = self.take_fault(method, path)
            if fault and not fault.get("apply"):
                raise Reply(fault["status"], fault.get("body", {"message": "Server Error"}), fault.get("headers"))
            status, out, headers = self.route(method, path, parse_qs(url.query), body, who)
            if fault:  # the request took effect, but the client hears a failure
                raise Reply(fault["status"], fault.get("body", {"message": "Server Error"}), fault.get("headers"))
            self.send(status, out, headers)
        except Reply as r:
            self.send(r.status, r.body, r.headers)

    def send(self, status, body, headers=None):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        ctype = "text/html" if isinstance(body, bytes) else "application/json; charset=utf-8"
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        reset = int(time.time()) + 3600
        for k, v in {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4990", "x-ratelimit-used": "10",
                     "x-ratelimit-reset": str(reset), "x-ratelimit-resource": "core",
                     "x-github-api-version-selected": "2022-11-28", "x-github-request-id": "0000:1111:2222:3333"}.items():
            if not (headers and k in headers):
                self.send_header(k, v)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def check_headers(self):
        if not self.headers.get("user-agent"):
            raise Reply(403, b"Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n")
        version = self.headers.get("x-github-api-version")
        if version and version not in API_VERSIONS:
            raise error(400, f"Invalid API version provided: {version}", "https://docs.github.com/rest/about-the-rest-api/api-versions")
        auth = self.headers.get("authorization") or ""
        if not auth:
            raise error(401, "Requires authentication")
        token = re.sub(r"^(Bearer|token)\s+", "", auth)
        if token not in TOKENS:
            raise error(401, "Bad credentials")
        return TOKENS[token]

    def take_fault(self, method, path):
        with STATE.lock:
            for f in STATE.faults:
                if f["times"] > 0 and f.get("method", method) == method and re.search(f.get("path", ""), path):
                    f["times"] -= 1
                    return dict(f)
        return None

    # -- the REST API ---------------------------------------------------------------
    def route(self, method, path, query, body, who):
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:1] == ["repositories"] and len(parts) > 1:
            if parts[1] != str(REPO_ID):
                raise error(404, "Not Found")
            parts = ["repos", OWNER, REPO] + parts[2:]
        if parts == ["user"] and method == "GET":
            if who["app"]:
                raise error(403, "Resource not accessible by integration", "https://docs.github.com/rest/users/users#get-the-authenticated-user")
            return 200, user_json(who), {}
        if parts == ["graphql"] and method == "POST":
            return 200, self.graphql(body or {}), {}
        if parts[:3] != ["repos", OWNER, REPO]:
            raise error(404, "Not Found")
        rest = parts[3:]
        if method != "GET" and not who["write"]:
            raise error(403, "Resource not accessible by integration", "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
        for pattern, fn in ROUTES:
            m = re.fullmatch(pattern, method + " " + "/".join(rest))
            if m:
                return fn(self, who, query, body, *m.groups())
        raise error(404, "Not Found")

    def base(self):
        host = self.headers.get("host")
        return f"http://{host}{self.server.base_path}"

    def list_comments(self, who, query, body, issue):
        issue = int(issue)
        with STATE.lock:
            mine = [comment_json(self.base(), c) for c in STATE.comments if c["issue"] == issue]
        return self.paged(mine, query, f"issues/{issue}/comments", "")

    def create_comment(self, who, query, body, issue):
        issue = int(issue)
        text = (body or {}).get("body")
        if text is None:
            raise error(422, "Invalid request.\n\n\"body\" wasn't supplied.", "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
        too_long(text)
        with STATE.lock:
            if issue in STATE.locked:
                raise error(403, "Unable to create comment because issue is locked.", "https://docs.github.com/articles/locking-conversations/")
            STATE.next_id += 1
            c = {"id": STATE.next_id, "issue": issue, "body": text, "login": who["login"], "id_user": who["id"],
                 "type": who["type"], "minimized": False, "created_at": now(), "updated_at": now()}
            STATE.comments.append(c)
            out = comment_json(self.base(), c)
        return 201, out, {"location": out["url"]}

    def update_comment(self, who, query, body, cid):
        text = (body or {}).get("body")
        if text is None:
            raise error(422, "Invalid request.\n\n\"body\" wasn't supplied.")
        too_long(text)
        with STATE.lock:
            c = next((c for c in STATE.comments if c["id"] == int(cid)), None)
            if c is None:
                raise error(404, "Not Found")
            # GitHub lets a token with pull-requests: write edit anyone's comment.
            c["body"], c["updated_at"] = text, now()
            return 200, comment_json(self.base(), c), {}

    def commit_pulls(self, who, query, body, sha):
        with STATE.lock:
            out = []
            for p in STATE.pulls.values():
                if p.get("merge_commit_sha") == sha and p.get("merged"):
                    if p.get("lag", 0) > 0:  # GitHub's commit -> pull request index catches up
                        p["lag"] -= 1
                        continue
                    out.append(pull_json(self.base(), p))
                elif p.get("head_sha") == sha and not p.get("merged"):
                    out.append(pull_json(self.base(), p))
        return 200, out, {}

    def get_pull(self, who, query, body, number):
        with STATE.lock:
            p = STATE.pulls.get(int(number))
            if p is None:
                raise error(404, "Not Found")
            out = pull_json(self.base(), p)
        out["merged"] = bool(p.get("merged"))
        return 200, out, {}

    def issue_labels(self, who, query, body, issue):
        with STATE.lock:
            return 200, [label_json(n) for n in STATE.labels.get(int(issue), [])], {}

    def add_labels(self, who, query, body, issue):
        names = (body or {}).get("labels")
        if not isinstance(names, list) or not names:
            raise error(422, "Invalid request.\n\nNo subschema in \"anyOf\" matched.")
        with STATE.lock:
            have = STATE.labels.setdefault(int(issue), [])
            have.extend(n for n in names if n not in have)
            return 200, [label_json(n) for n in have], {}

    def remove_label(self, who, query, body, issue, name):
        with STATE.lock:
            have = STATE.labels.setdefault(int(issue), [])
            if name not in have:
                raise error(404, "Label does not exist", "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue")
            have.remove(name)
            return 200, [label_json(n) for n in have], {}

    def create_deployment(self, who, query, body, *_):
        """POST /deployments as GitHub answers it: `auto_merge` defaults to true and every ref
        here counts as behind the default branch (202, a message and no deployment); the
        default `required_contexts` verifies every check, and the running workflow's own check
        is pending (409). A client must send `auto_merge: false` and `required_contexts: []`."""
        doc = "https://docs.github.com/rest/deployments/deployments#create-a-deployment"
        body = body or {}
        if not body.get("ref"):
            raise error(422, "Invalid request.\n\n\"ref\" wasn't supplied.", doc)
        if body.get("auto_merge", True) is not False:
            return 202, {"message": "Auto-merged main into topic branch."}, {}
        if "required_contexts" not in body:
            raise error(409, f"Conflict: Commit status checks failed for {body['ref']}.", doc)
        with STATE.lock:
            did = 5000 + len(STATE.deployments)
            d = {"id": did, "node_id": f"DE_{did}", "ref": body["ref"], "sha": body["ref"], "task": body.get("task", "deploy"),
                 "payload": body.get("payload", {}), "environment": body.get("environment", "production"),
                 "original_environment": body.get("environment", "production"), "description": body.get("description"),
                 "creator": user_json(who), "transient_environment": body.get("transient_environment", False),
                 "production_environment": body.get("production_environment", body.get("environment", "production") == "production"),
                 "created_at": now(), "updated_at": now()}
            STATE.deployments.append(d)
        return 201, self.deployment_json(d), {}

    def deployment_json(self, d):
        url = f"{self.base()}/repos/{OWNER}/{REPO}/deployments/{d['id']}"
        return dict(d, url=url, statuses_url=f"{url}/statuses", repository_url=f"{self.base()}/repos/{OWNER}/{REPO}")

    def list_deployments(self, who, query, body, *_):
        want = {k: query[k][0] for k in ("environment", "sha", "ref", "task") if k in query}
        with STATE.lock:
            rows = [self.deployment_json(d) for d in reversed(STATE.deployments)
                    if all(str(d.get(k)) == v for k, v in want.items())]
        keep = "".join(f"{k}={quote(v)}&" for k, v in sorted(want.items()))
        return self.paged(rows, query, "deployments", keep)

    def create_deployment_status(self, who, query, body, did):
        doc = "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status"
        body = body or {}
        states = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
        if body.get("state") not in states:
            raise error(422, "Validation Failed", doc, errors=[{"resource": "DeploymentStatus", "field": "state", "code": "invalid"}])
        if len(body.get("description") or "") > 140:
            raise error(422, "Validation Failed", doc, errors=[{"resource": "DeploymentStatus", "field": "description",
                                                                 "code": "custom", "message": "description is too long (maximum is 140 characters)"}])
        with STATE.lock:
            d = next((d for d in STATE.deployments if d["id"] == int(did)), None)
            if d is None:
                raise error(404, "Not Found")
            s = self.add_status(d, body, who)
            # auto_inactive (default true): the environment's earlier successful deployments
            # become inactive.
            if body["state"] == "success" and body.get("auto_inactive", True):
                for old in STATE.deployments:
                    if old is not d and old["environment"] == d["environment"] and self.last_state(old) == "success":
                        self.add_status(old, {"state": "inactive"}, who)
        return 201, s, {}

    def add_status(self, d, body, who):
        s = {"id": 9000 + len(STATE.deployment_statuses), "deployment_id": d["id"], "state": body["state"],
             "description": body.get("description", ""), "environment": body.get("environment", d["environment"]),
             "environment_url": body.get("environment_url", ""), "log_url": body.get("log_url", ""),
             "creator": user_json(who), "created_at": now(), "updated_at": now()}
        STATE.deployment_statuses.append(s)
        return s

    def last_state(self, d):
        mine = [s for s in STATE.deployment_statuses if s["deployment_id"] == d["id"]]
        return mine[-1]["state"] if mine else None

    def list_deployment_statuses(self, who, query, body, did):
        with STATE.lock:
            if not any(d["id"] == int(did) for d in STATE.deployments):
                raise error(404, "Not Found")
            rows = [s for s in reversed(STATE.deployment_statuses) if s["deployment_id"] == int(did)]
        return self.paged(rows, query, f"deployments/{did}/statuses", "")

    def list_issues(self, who, query, body, *_):
        state = query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            raise error(422, "Validation Failed", errors=[{"value": state, "resource": "Issue", "field": "state", "code": "invalid"}])
        wanted = [x for x in query.get("labels", [""])[0].split(",") if x]
        creator = query.get("creator", [None])[0]
        with STATE.lock:
            rows = [(i["number"], issue_json(self.base(), i)) for i in STATE.issues.values()]
            rows += [(p["number"], pull_as_issue(self.base(), p)) for p in STATE.pulls.values()]
            rows.sort(key=lambda r: -r[0])  # newest first, GitHub's default sort
            rows = [r for _, r in rows if (state == "all" or r["state"] == state)
                    and all(x in [l["name"] for l in r["labels"]] for x in wanted)
                    and (creator is None or r["user"]["login"] == creator)]
        keep = "&".join(f"{k}={quote(v[0])}" for k, v in sorted(query.items()) if k not in ("page", "per_page"))
        return self.paged(rows, query, "issues", keep + "&" if keep else "")

    def paged(self, rows, query, route, keep):
        """One page of `rows` (`per_page` default 30, at most 100) with GitHub's `Link`
        header (prev/first, next/last), its URLs under /repositories/{id}/ with `keep` first."""
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        items = rows[(page - 1) * per_page: page * per_page]
        pages = max(1, -(-len(rows) // per_page))
        link = lambda p, rel: f'<{self.base()}/repositories/{REPO_ID}/{route}?{keep}per_page={per_page}&page={p}>; rel="{rel}"'
        links = []
        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < pages:
            links += [link(page + 1, "next"), link(pages, "last")]
        return 200, items, {"link": ", ".join(links)} if links else {}

    def create_issue(self, who, query, body, *_):
        body = body or {}
        if not body.get("title"):
            raise error(422, "Invalid request.\n\n\"title\" wasn't supplied.", "https://docs.github.com/rest/issues/issues#create-an-issue")
        too_long(body.get("body") or "", "Issue")
        with STATE.lock:
            n = STATE.next_number()
            STATE.issues[n] = {"number": n, "title": body["title"], "body": body.get("body"), "login": who["login"],
                               "id_user": who["id"], "type": who["type"], "state": "open", "state_reason": None,
                               "created_at": now(), "updated_at": now(), "closed_at": None}
            if body.get("labels"):
                STATE.labels[n] = [l if isinstance(l, str) else l["name"] for l in body["labels"]]
            out = issue_json(self.base(), STATE.issues[n])
        return 201, out, {"location": out["url"]}

    def get_issue(self, who, query, body, number):
        with STATE.lock:
            n = int(number)
            if n in STATE.pulls:
                return 200, pull_as_issue(self.base(), STATE.pulls[n]), {}
            if n not in STATE.issues:
                raise error(404, "Not Found", "https://docs.github.com/rest/issues/issues#get-an-issue")
            return 200, issue_json(self.base(), STATE.issues[n]), {}

    def update_issue(self, who, query, body, number):
        body = body or {}
        with STATE.lock:
            i = STATE.issues.get(int(number))
            if i is None:
                raise error(404, "Not Found", "https://docs.github.com/rest/issues/issues#update-an-issue")
            state = body.get("state", i["state"])
            reason = body.get("state_reason")
            if state not in ("open", "closed") or reason not in (None, "completed", "not_planned", "reopened"):
                raise error(422, "Validation Failed", errors=[{"resource": "Issue", "field": "state", "code": "invalid"}])
            if "body" in body:
                too_long(body["body"] or "", "Issue")
                i["body"] = body["body"]
            if body.get("title"):
                i["title"] = body["title"]
            if "labels" in body:
                STATE.labels[i["number"]] = [l if isinstance(l, str) else l["name"] for l in body["labels"]]
            if state != i["state"]:
                i["closed_at"] = now() if state == "closed" else None
                i["state_reason"] = reason or ("completed" if state == "closed" else "reopened")
            i["state"], i["updated_at"] = state, now()
            return 200, issue_json(self.base(), i), {}

    def graphql(self, body):
        ids = (body.get("variables") or {}).get("ids") or []
        with STATE.lock:
            by_node = {f"IC_{c['id']}": c for c in STATE.comments}
            nodes = [{"id": i, "isMinimized": by_node[i]["minimized"]} if i in by_node else None for i in ids]
        return {"data": {"nodes": nodes}}

    # -- control --------------------------------------------------------------------
    def control(self, method, path, body):
        body = body or {}
        with STATE.lock:
            if path == "/_testbed/state":
                out = {"comments": STATE.comments, "requests": STATE.requests, "labels": STATE.labels,
                       "deployments": STATE.deployments, "deployment_statuses": STATE.deployment_statuses,
                       "issues": list(STATE.issues.values())}
                return self.send(200, json.loads(json.dumps(out)))
            if path == "/_testbed/comments":  # {issue, body, login?, type?, minimized?}
                STATE.next_id += 1
                who = TOKENS["test-token"]
                c = {"id": STATE.next_id, "issue": body["issue"], "body": body["body"],
                     "login": body.get("login", who["login"]), "type": body.get("type", who["type"]),
                     "id_user": body.get("user_id", who["id"]), "minimized": body.get("minimized", False),
                     "created_at": now(), "updated_at": now()}
                STATE.comments.append(c)
                return self.send(201, {"id": c["id"]})
            if path == "/_testbed/pulls":  # {number, merged?, merge_commit_sha?, head_sha?, lag?}
                STATE.pulls[body["number"]] = body
                return self.send(201, body)
            if path == "/_testbed/issues":  # {title, body, login?, type?, state?, labels?}
                n = STATE.next_number()
                who = TOKENS["test-token"]
                STATE.issues[n] = {"number": n, "title": body["title"], "body": body.get("body"),
                                   "login": body.get("login", who["login"]), "id_user": body.get("user_id", who["id"]),
                                   "type": body.get("type", who["type"]), "state": body.get("state", "open"),
                                   "state_reason": None, "created_at": now(), "updated_at": now(), "closed_at": None}
                if body.get("labels"):
                    STATE.labels[n] = list(body["labels"])
                return self.send(201, {"number": n})
            if path == "/_testbed/locked":  # {issue}
                STATE.locked.add(body["issue"])
                return self.send(201, {})
            if path == "/_testbed/faults":  # {method?, path, status, headers?, body?, times, apply?}
                body.setdefault("times", 1)
                if body.get("kind") == "secondary":
                    body.setdefault("status", 403)
                    body["body"] = {"message": SECONDARY, "documentation_url": "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits", "status": str(body["status"])}
                STATE.faults.append(body)
                return self.send(201, {})
        self.send(404, {"message": "no such control endpoint"})


def too_long(text, resource="IssueComment"):
    if len(text) > 65536:
        raise Reply(422, {"message": "Validation Failed", "errors": [{"resource": resource, "code": "unprocessable", "field": "data" if resource == "IssueComment" else "body", "message": "Body is too long (maximum is 65536 characters)"}], "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment", "status": "422"})


ROUTES = [
    (r"GET (issues)", Handler.list_issues),
    (r"POST (issues)", Handler.create_issue),
    (r"GET issues/(\d+)", Handler.get_issue),
    (r"PATCH issues/(\d+)", Handler.update_issue),
    (r"GET issues/(\d+)/comments", Handler.list_comments),
    (r"POST issues/(\d+)/comments", Handler.create_comment),
    (r"PATCH issues/comments/(\d+)", Handler.update_comment),
    (r"GET commits/([0-9a-f]+)/pulls", Handler.commit_pulls),
    (r"GET pulls/(\d+)", Handler.get_pull),
    (r"GET issues/(\d+)/labels", Handler.issue_labels),
    (r"POST issues/(\d+)/labels", Handler.add_labels),
    (r"DELETE issues/(\d+)/labels/(.+)", Handler.remove_label),
    (r"POST (deployments)", Handler.create_deployment),
    (r"GET (deployments)", Handler.list_deployments),
    (r"POST deployments/(\d+)/statuses", Handler.create_deployment_status),
    (r"GET deployments/(\d+)/statuses", Handler.list_deployment_statuses),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--base-path", default="/api/v3", help="GitHub Enterprise's /api/v3; '' for github.com's root")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.base_path = args.base_path.rstrip("/")
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}{server.base_path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
