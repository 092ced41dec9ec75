//! Table-driven checks of capsule.toml validation: each invalid input names the exact
//! `file:line:column` and message of every problem it has.

use std::path::Path;

use capsule::config::load_str;

/// The headlines (`file:line:col: message`) of every diagnostic for `src`.
fn errors(src: &str) -> Vec<String> {
    match load_str(Path::new("capsule.toml"), src) {
        Ok(_) => vec![],
        Err(d) => d.0.iter().map(|d| d.headline()).collect(),
    }
}

fn hints(src: &str) -> Vec<Option<String>> {
    match load_str(Path::new("capsule.toml"), src) {
        Ok(_) => vec![],
        Err(d) => d.0.iter().map(|d| d.hint.clone()).collect(),
    }
}

const HEAD: &str = "[capsule]\nname = \"shop\"\n";

/// (behaviour, body after the `[capsule]` head, expected headlines)
const CASES: &[(&str, &str, &[&str])] = &[
    ("unknown top-level table", "[servics.api]\nimage = \"x\"\n", &["capsule.toml:3:2: unknown table `servics`"]),
    (
        "unknown key in a service",
        "[services.api]\nimage = \"x\"\nprot = 80\n",
        &["capsule.toml:5:1: unknown key `prot` in [services.api]"],
    ),
    (
        "unknown keys are all reported",
        "[services.api]\nimage = \"x\"\nprot = 80\ncpus = 1\n",
        &[
            "capsule.toml:5:1: unknown key `prot` in [services.api]",
            "capsule.toml:6:1: unknown key `cpus` in [services.api]",
        ],
    ),
    (
        "unknown key in nested inline table",
        "[services.api]\nimage = \"x\"\nhealth = { pth = \"/\" }\n",
        &["capsule.toml:5:12: unknown key `pth` in [services.api.health]"],
    ),
    (
        "unknown key in autoscale",
        "[services.api]\nimage = \"x\"\n[services.api.autoscale]\nmin = 1\nmax = 2\ntarget = 50\n",
        &["capsule.toml:8:1: unknown key `target` in [services.api.autoscale]"],
    ),
    (
        "unknown key in header rule",
        "[sites.web]\ndir = \"d\"\n[[sites.web.headers]]\nglob = \"*\"\ncache = \"x\"\n",
        &["capsule.toml:7:1: unknown key `cache` in [sites.web.headers.0]"],
    ),
    (
        "wrong type for port",
        "[services.api]\nimage = \"x\"\nport = \"80\"\n",
        &["capsule.toml:5:8: invalid type: string \"80\", expected an integer in [services.api]"],
    ),
    (
        "missing required engine",
        "[databases.main]\nversion = \"16\"\n",
        &["capsule.toml:3:1: missing field `engine` in [databases.main]"],
    ),
    (
        "both build and image",
        "[services.api]\nbuild = \"ctx\"\nimage = \"nginx\"\n",
        &["capsule.toml:5:1: service `api` has both `build` and `image`"],
    ),
    (
        "neither build nor image",
        "[services.api]\nport = 80\n",
        &["capsule.toml:3:11: service `api` needs `build` or `image`"],
    ),
    (
        "port out of range",
        "[services.api]\nimage = \"x\"\nport = 70000\n",
        &["capsule.toml:5:8: port 70000 is out of range"],
    ),
    ("port zero", "[services.api]\nimage = \"x\"\nport = 0\n", &["capsule.toml:5:8: port 0 is out of range"]),
    (
        "public without port",
        "[services.api]\nimage = \"x\"\npublic = true\n",
        &["capsule.toml:5:10: public service `api` has no `port`"],
    ),
    (
        "invalid fargate cpu",
        "[services.api]\nimage = \"x\"\ncpu = 300\n",
        &["capsule.toml:5:7: invalid Fargate cpu 300"],
    ),
    (
        "invalid fargate pairing",
        "[services.api]\nimage = \"x\"\ncpu = 256\nmemory = 4096\n",
        &["capsule.toml:6:10: memory 4096 MiB is not valid with cpu 256"],
    ),
    (
        "count and autoscale together",
        "[services.api]\nimage = \"x\"\ncount = 2\n[services.api.autoscale]\nmin = 1\nmax = 3\n",
        &["capsule.toml:5:1: service `api` has both `count` and `[autoscale]`"],
    ),
    (
        "autoscale min above max",
        "[services.api]\nimage = \"x\"\n[services.api.autoscale]\nmin = 5\nmax = 3\n",
        &["capsule.toml:6:7: autoscale min 5 is greater than max 3"],
    ),
    (
        "autoscale target cpu out of range",
        "[services.api]\nimage = \"x\"\nautoscale = { min = 1, max = 2, cpu = 150 }\n",
        &["capsule.toml:5:39: target CPU 150% is out of range"],
    ),
    ("negative count", "[services.api]\nimage = \"x\"\ncount = -1\n", &["capsule.toml:5:9: count -1 is out of range"]),
    (
        "health path without slash",
        "[services.api]\nimage = \"x\"\nhealth = { path = \"healthz\" }\n",
        &["capsule.toml:5:19: health path `healthz` must start with `/`"],
    ),
    (
        "bad grace duration",
        "[services.api]\nimage = \"x\"\nhealth = { grace = \"soon\" }\n",
        &["capsule.toml:5:20: invalid duration `soon`"],
    ),
    ("empty command", "[services.api]\nimage = \"x\"\ncommand = []\n", &["capsule.toml:5:11: `command` is empty"]),
    (
        "unknown database reference",
        "[services.api]\nimage = \"x\"\n[services.api.env]\nDB = \"${databases.mian.url}\"\n[databases.main]\nengine = \"postgres\"\n",
        &["capsule.toml:6:6: unknown database `mian` in `${databases.mian.url}`"],
    ),
    (
        "unknown cache reference",
        "[services.api]\nimage = \"x\"\nenv = { R = \"${caches.s.url}\" }\n",
        &["capsule.toml:5:13: unknown cache `s` in `${caches.s.url}`"],
    ),
    (
        "unknown reference attribute",
        "[services.api]\nimage = \"x\"\nenv = { DB = \"${databases.main.host}\" }\n[databases.main]\nengine = \"postgres\"\n",
        &["capsule.toml:5:14: unknown attribute `host` in `${databases.main.host}`"],
    ),
    (
        "reference mixed with text",
        "[services.api]\nimage = \"x\"\nenv = { DB = \"x${databases.main.url}\" }\n[databases.main]\nengine = \"postgres\"\n",
        &["capsule.toml:5:14: `DB` mixes a reference with other text"],
    ),
    (
        "unknown secret",
        "[services.api]\nimage = \"x\"\nenv = { K = { secret = \"strpe\" } }\n[secrets]\nstripe = {}\n",
        &["capsule.toml:5:13: unknown secret `strpe`"],
    ),
    (
        "secret value in [secrets]",
        "[secrets]\nstripe = \"sk_live_abc\"\n",
        &["capsule.toml:4:10: secret `stripe` has a value in git"],
    ),
    (
        "secret value key in [secrets]",
        "[secrets]\nstripe = { value = \"sk_live_abc\" }\n",
        &["capsule.toml:4:20: secret `stripe` has a value in git"],
    ),
    (
        "literal secret in env",
        "[services.api]\nimage = \"x\"\nenv = { STRIPE_KEY = \"sk_live_51H8abcdef\" }\n",
        &["capsule.toml:5:22: `STRIPE_KEY` looks like a secret value committed to git"],
    ),
    (
        "invalid env var name",
        "[services.api]\nimage = \"x\"\nenv = { \"1X\" = \"a\" }\n",
        &["capsule.toml:5:9: invalid environment variable name `1X`"],
    ),
    (
        "job with unknown service",
        "[services.api]\nimage = \"x\"\n[jobs.nightly]\nservice = \"apo\"\nschedule = \"rate(1 day)\"\n",
        &["capsule.toml:6:11: job `nightly` refers to unknown service `apo`"],
    ),
    (
        "job with invalid cron",
        "[services.api]\nimage = \"x\"\n[jobs.nightly]\nservice = \"api\"\nschedule = \"cron(0 3 * * *)\"\n",
        &[
            "capsule.toml:7:12: invalid schedule `cron(0 3 * * *)`: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), found 5",
        ],
    ),
    (
        "job with invalid rate",
        "[services.api]\nimage = \"x\"\n[jobs.nightly]\nservice = \"api\"\nschedule = \"rate(2 hour)\"\n",
        &[
            "capsule.toml:7:12: invalid schedule `rate(2 hour)`: use the singular unit for 1 and the plural otherwise (`rate(2 hours)`)",
        ],
    ),
    (
        "unknown database engine",
        "[databases.main]\nengine = \"postgress\"\n",
        &["capsule.toml:4:10: unknown database engine `postgress`"],
    ),
    (
        "database versions RDS has no parameter group family for",
        "[databases.a]\nengine = \"mysql\"\nversion = \"8\"\n[databases.b]\nengine = \"mariadb\"\nversion = \"10.4\"\n\
         [databases.c]\nengine = \"postgres\"\nversion = \"12.9\"\n[databases.d]\nengine = \"postgres\"\nversion = \"sixteen\"\n",
        &[
            "capsule.toml:5:11: mysql versions name major and minor: `8.0`, not `8`",
            "capsule.toml:8:11: MariaDB 10.4 cannot require TLS: use 10.5 or later",
            "capsule.toml:11:11: PostgreSQL 12.9 is past RDS support: use 13 or later",
            "capsule.toml:14:11: version `sixteen` is not a number such as `16`, `8.0` or `10.11.9`",
        ],
    ),
    (
        "unknown cache engine",
        "[caches.s]\nengine = \"memcache\"\n",
        &["capsule.toml:4:10: unknown cache engine `memcache`"],
    ),
    (
        "storage below the minimum",
        "[databases.main]\nengine = \"mysql\"\nstorage_gb = 0\n",
        &["capsule.toml:5:14: storage_gb 0 is out of range"],
    ),
    (
        "backup days out of range",
        "[databases.main]\nengine = \"mysql\"\nbackup_days = 40\n",
        &["capsule.toml:5:15: backup_days 40 is out of range"],
    ),
    (
        "unknown on_delete",
        "[databases.main]\nengine = \"mysql\"\non_delete = \"keep\"\n",
        &["capsule.toml:5:13: unknown on_delete `keep`"],
    ),
    (
        "reserved database user",
        "[databases.main]\nengine = \"postgres\"\nusername = \"postgres\"\n",
        &["capsule.toml:5:12: invalid database username `postgres`"],
    ),
    ("cache nodes zero", "[caches.s]\nengine = \"redis\"\nnodes = 0\n", &["capsule.toml:5:9: nodes 0 is out of range"]),
    (
        "invalid glob",
        "[sites.web]\ndir = \"d\"\n[[sites.web.headers]]\nglob = \"a/[b\"\ncache_control = \"x\"\n",
        &["capsule.toml:6:8: invalid glob `a/[b`: unclosed character class; missing ']'"],
    ),
    (
        "header rule without headers",
        "[sites.web]\ndir = \"d\"\n[[sites.web.headers]]\nglob = \"*\"\n",
        &["capsule.toml:5:1: header rule sets nothing"],
    ),
    (
        "domain outside the zone",
        "[dns]\nzone = \"example.com\"\n[sites.web]\ndir = \"d\"\ndomain = \"www.example.org\"\n",
        &["capsule.toml:7:10: domain `www.example.org` is not inside the DNS zone `example.com`"],
    ),
    (
        "domain without a zone",
        "[sites.web]\ndir = \"d\"\ndomain = \"www.example.org\"\n",
        &["capsule.toml:5:10: domain `www.example.org` needs a DNS zone"],
    ),
    (
        "domain on a private service",
        "[dns]\nzone = \"e.com\"\n[services.api]\nimage = \"x\"\nport = 80\ndomain = \"api.e.com\"\n",
        &["capsule.toml:8:10: service `api` has a domain but is not public"],
    ),
    (
        "duplicate domains",
        "[dns]\nzone = \"e.com\"\n[sites.a]\ndir = \"a\"\ndomain = \"e.com\"\n[sites.b]\ndir = \"b\"\ndomain = \"e.com\"\n",
        &["capsule.toml:10:10: domain `e.com` is already used by `sites.a.domain`"],
    ),
    (
        "unknown env variable",
        "[environments.prod]\ndomain = \"e.com\"\n[dns]\nzone = \"e.com\"\n[sites.web]\ndir = \"d\"\ndomain = \"${env.domian}\"\n",
        &["capsule.toml:9:11: unknown variable `${env.domian}`"],
    ),
    (
        "unknown reference form",
        "[sites.web]\ndir = \"${site.dir}\"\n",
        &["capsule.toml:4:8: unknown reference `${site.dir}`"],
    ),
    ("invalid environment name", "[environments.Prod]\n", &["capsule.toml:3:15: invalid environment name `Prod`"]),
    (
        "unknown override table",
        "[environments.prod.service.api]\ncount = 2\n",
        &["capsule.toml:3:20: unknown table `service` in environment `prod`"],
    ),
    (
        "capsule name overridden per environment",
        "[environments.prod.capsule]\nname = \"other\"\n",
        &["capsule.toml:4:1: the capsule name cannot change per environment"],
    ),
    (
        "override error points at the override",
        "[services.api]\nimage = \"x\"\n[environments.prod.services.api]\nport = 99999\n",
        &["capsule.toml:6:8: port 99999 is out of range"],
    ),
    ("invalid entry name", "[services.API]\nimage = \"x\"\n", &["capsule.toml:3:11: invalid name `API` in [services]"]),
    (
        "toml syntax error",
        "[services.api\nimage = \"x\"\n",
        &["capsule.toml:3:14: invalid TOML: unclosed table, expected `]`"],
    ),
    ("network azs out of range", "[network]\nazs = 4\n", &["capsule.toml:4:7: azs 4 is out of range"]),
    (
        "network nat unknown",
        "[network]\nnat = \"both\"\n",
        &["capsule.toml:4:7: unknown variant `both`, expected one of `per-az`, `single`, `none` in [network]"],
    ),
    (
        "network cidr per environment: too small, not private",
        "[network]\ncidr = \"10.0.0.0/16\"\n[environments.a.network]\ncidr = \"10.0.0.0/24\"\n[environments.b.network]\ncidr = \"8.8.0.0/16\"\n",
        &[
            "capsule.toml:6:8: cidr `10.0.0.0/24` is a /24",
            "capsule.toml:8:8: cidr `8.8.0.0/16` is not a private range",
        ],
    ),
    (
        "network existing VPC without public services needs no public subnets",
        "[network]\nvpc_id = \"vpc-0123456789abcdef0\"\nprivate_subnets = [\"subnet-0123456789abcdef0\", \"subnet-0123456789abcdef1\"]\n[services.worker]\nimage = \"x\"\n",
        &[],
    ),
    (
        "network cidr with host bits",
        "[network]\ncidr = \"10.0.0.1/16\"\n",
        &["capsule.toml:4:8: invalid cidr `10.0.0.1/16`"],
    ),
    (
        "network subnets without vpc_id",
        "[network]\nprivate_subnets = [\"subnet-0123456789abcdef0\"]\n",
        &["capsule.toml:4:1: `private_subnets` without `vpc_id`"],
    ),
    (
        "network existing VPC: shape keys, too few subnets, bad and repeated ids",
        "[network]\nvpc_id = \"vpc-0123456789abcdef0\"\nnat = \"single\"\npublic_subnets = [\"subnet-0123456789abcdef0\"]\nprivate_subnets = [\"subnet-0123456789abcdef0\", \"subnet-x\"]\n",
        &[
            "capsule.toml:5:1: `nat` with `vpc_id`",
            "capsule.toml:6:1: `public_subnets` needs at least two subnets",
            "capsule.toml:7:20: subnet `subnet-0123456789abcdef0` is listed twice",
            "capsule.toml:7:48: invalid subnet id `subnet-x`",
        ],
    ),
    (
        "kubernetes: a database cannot run there yet",
        "runtime = \"kubernetes\"\n[databases.main]\nengine = \"postgres\"\n",
        &["capsule.toml:4:12: database `main` cannot run with runtime = \"kubernetes\" yet"],
    ),
    (
        "kubernetes: a site is not planned with the cluster yet",
        "runtime = \"kubernetes\"\n[sites.web]\ndir = \"d\"\n",
        &["capsule.toml:4:8: site `web` cannot be in a capsule with runtime = \"kubernetes\" yet"],
    ),
    (
        "kubernetes: a rate a 5-field cron cannot say",
        "runtime = \"kubernetes\"\n[services.api]\nimage = \"x\"\n[jobs.nightly]\nservice = \"api\"\nschedule = \"rate(7 minutes)\"\n",
        &[
            "capsule.toml:8:12: schedule `rate(7 minutes)` cannot run as a Kubernetes CronJob: every 7 minutes does not divide an hour, so a cron cannot say it; use a divisor of 60 (e.g. 5, 10, 15, 20, 30)",
        ],
    ),
    (
        "kubernetes: [kubernetes] on an ECS capsule",
        "[kubernetes]\nnamespace = \"x\"\n",
        &["capsule.toml:3:2: `[kubernetes]` is set but the capsule runs on ECS"],
    ),
    (
        "kubernetes: a service that builds its image without a registry",
        "runtime = \"kubernetes\"\n[services.api]\nbuild = \".\"\n",
        &["capsule.toml:5:1: service `api` builds its image, but `[kubernetes]` names no `registry` to push it to"],
    ),
    (
        "kubernetes: a namespace that is not a DNS label",
        "runtime = \"kubernetes\"\n[kubernetes]\nnamespace = \"Shop_${env.name}\"\n",
        &["capsule.toml:5:13: invalid Kubernetes namespace `Shop_production`"],
    ),
    (
        "kubernetes: autoscale min 0 and a job named like a service",
        "runtime = \"kubernetes\"\n[services.api]\nimage = \"x\"\n[services.api.autoscale]\nmin = 0\nmax = 2\n[jobs.api]\nservice = \"api\"\nschedule = \"rate(1 hour)\"\n",
        &[
            "capsule.toml:7:7: autoscale min 0 is not possible on Kubernetes",
            "capsule.toml:9:7: job `api` has the name of a service",
        ],
    ),
    (
        "kubernetes: an unknown runtime",
        "runtime = \"k8s\"\n",
        &["capsule.toml:3:11: unknown variant `k8s`, expected `ecs` or `kubernetes` in [capsule]"],
    ),
    (
        "kubernetes: a valid capsule (a domain needs no [dns] zone there)",
        "runtime = \"kubernetes\"\n[kubernetes]\nnamespace = \"shop-${env.name}\"\ningress_class = \"nginx\"\n[services.api]\nimage = \"x\"\nport = 80\npublic = true\ndomain = \"api.example.com\"\n[jobs.nightly]\nservice = \"api\"\nschedule = \"rate(15 minutes)\"\n",
        &[],
    ),
];

#[test]
fn every_invalid_input_names_file_line_column_and_message() {
    let mut failures = Vec::new();
    for (behaviour, body, expected) in CASES {
        if expected.is_empty() {
            continue;
        }
        let got = errors(&format!("{HEAD}{body}"));
        if got != *expected {
            failures.push(format!("{behaviour}:\n  expected {expected:?}\n  got      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    assert!(CASES.iter().filter(|c| !c.2.is_empty()).count() >= 40);
}

#[test]
fn capsule_table_errors() {
    assert_eq!(errors("[capsule]\nname = \"Shop\"\n"), ["capsule.toml:2:8: invalid capsule name `Shop`"]);
    assert_eq!(
        errors("[capsule]\nname = \"shop\"\nregion = \"mars-1\"\n"),
        ["capsule.toml:3:10: invalid region `mars-1`"]
    );
    assert_eq!(
        errors("[capsule]\nname = \"shop\"\naccount = \"12345\"\n"),
        ["capsule.toml:3:11: invalid account id `12345`"]
    );
    assert_eq!(errors("[services.api]\nimage = \"x\"\n"), ["capsule.toml:1:1: missing `[capsule]` table"]);
}

#[test]
fn unknown_keys_suggest_the_closest_known_key() {
    assert_eq!(
        hints(&format!("{HEAD}[services.api]\nimage = \"x\"\nprot = 80\n")),
        [Some("did you mean `port`?".to_string())]
    );
    assert_eq!(hints(&format!("{HEAD}[servics.api]\nimage = \"x\"\n")), [Some("did you mean `services`?".to_string())]);
    assert_eq!(
        hints(&format!("{HEAD}[databases.main]\nengine = \"postgress\"\n")),
        [Some("did you mean `postgres`?".to_string())]
    );
    let far = hints(&format!("{HEAD}[services.api]\nimage = \"x\"\nzzz = 1\n"));
    assert!(far[0].as_deref().unwrap_or_default().starts_with("known keys: build, image, dockerfile, port"), "{far:?}");
}

#[test]
fn all_errors_of_a_file_are_reported_in_one_run() {
    let src = format!(
        "{HEAD}[services.api]\nimage = \"x\"\nport = 0\ncpu = 300\n[databases.main]\nengine = \"oracle\"\n[caches.c]\nengine = \"redis\"\nnodes = 9\n"
    );
    assert_eq!(errors(&src).len(), 4, "{:?}", errors(&src));
}

#[test]
fn errors_render_source_line_caret_and_hint() {
    let err = load_str(Path::new("shop/capsule.toml"), &format!("{HEAD}[services.api]\nimage = \"x\"\nprot = 80\n"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shop/capsule.toml:5:1: unknown key `prot` in [services.api]\n  |\n5 | prot = 80\n  | ^^^^\n  = hint: did you mean `port`?\n\n1 error found; nothing was sent to AWS"
    );
}
