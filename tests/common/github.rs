//! The test bed's GitHub REST stand-in (`testbed/github/server.py`), one per test: started
//! on a free port under `/api/v3`, seeded and read through its `/_testbed/*` endpoints.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The workflow token (`github-actions[bot]`), a person's token and a fork's read-only one.
pub const TOKEN: &str = "test-token";
pub const PAT: &str = "pat-token";
pub const READ_ONLY: &str = "read-only-token";

pub struct FakeGitHub {
    child: Child,
    /// The REST base (`GITHUB_API_URL`), ending in `/api/v3` like GitHub Enterprise's.
    pub url: String,
    /// `GITHUB_GRAPHQL_URL`.
    pub graphql: String,
    addr: String,
}

impl FakeGitHub {
    pub fn start() -> FakeGitHub {
        let script = super::root().join("testbed/github/server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0", "--base-path", "/api/v3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the GitHub stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().to_string();
        let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
        let graphql = format!("http://{addr}/api/graphql");
        FakeGitHub { child, url, graphql, addr }
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        let data = body.to_string();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{data}",
            self.addr,
            data.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        serde_json::from_str(body).unwrap_or(Value::Null)
    }

    /// Comments, requests (`[method, path, query]`), labels and deployments so far.
    pub fn state(&self) -> Value {
        self.call("GET", "/_testbed/state", &Value::Null)
    }

    /// Every recorded request as `METHOD path`.
    pub fn requests(&self) -> Vec<String> {
        self.state()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r[0].as_str().unwrap(), r[1].as_str().unwrap()))
            .collect()
    }

    /// The comments on issue `n` as (author login, body).
    pub fn comments(&self, n: u64) -> Vec<(String, String)> {
        self.state()["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["issue"] == n)
            .map(|c| (c["login"].as_str().unwrap().to_string(), c["body"].as_str().unwrap().to_string()))
            .collect()
    }

    pub fn labels(&self, n: u64) -> Vec<String> {
        let s = self.state();
        s["labels"][n.to_string()]
            .as_array()
            .map(|a| a.iter().map(|l| l.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// A comment by someone (`login`, `type` `User` or `Bot`), possibly hidden.
    pub fn seed_comment(&self, issue: u64, login: &str, kind: &str, body: &str, minimized: bool) {
        self.call(
            "POST",
            "/_testbed/comments",
            &json!({ "issue": issue, "login": login, "type": kind, "body": body, "minimized": minimized, "user_id": 99 }),
        );
    }

    /// A pull request: `{number, merged?, merge_commit_sha?, head_sha?, lag?}`.
    pub fn seed_pull(&self, pull: Value) {
        self.call("POST", "/_testbed/pulls", &pull);
    }

    /// Every issue (not pull requests): `{number, title, body, login, type, state, …}`,
    /// with its `labels` and `comments` (their bodies) added.
    pub fn issues(&self) -> Vec<Value> {
        let s = self.state();
        let mut out: Vec<Value> = s["issues"].as_array().cloned().unwrap_or_default();
        for i in &mut out {
            let n = i["number"].as_u64().unwrap();
            i["labels"] = s["labels"][n.to_string()].clone();
            let comments: Vec<Value> = s["comments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["issue"] == n)
                .map(|c| c["body"].clone())
                .collect();
            i["comments"] = Value::Array(comments);
        }
        out
    }

    /// An issue by someone (`login`, `type`), e.g. one that copies capsule's marker.
    pub fn seed_issue(&self, login: &str, kind: &str, title: &str, body: &str) -> u64 {
        let r = self.call(
            "POST",
            "/_testbed/issues",
            &json!({ "login": login, "type": kind, "title": title, "body": body, "user_id": 99 }),
        );
        r["number"].as_u64().unwrap()
    }

    pub fn lock(&self, issue: u64) {
        self.call("POST", "/_testbed/locked", &json!({ "issue": issue }));
    }

    /// The next `times` requests matching `method` and the `path` pattern answer `status`
    /// (`kind: "secondary"` for a secondary rate limit); `apply` lets them take effect first.
    pub fn fault(&self, fault: Value) {
        self.call("POST", "/_testbed/faults", &fault);
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
