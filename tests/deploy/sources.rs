//! `duckhaul sources check FILE` against json-server 0.17 (npm), a REST server none of us wrote:
//! its `_page`/`_limit` pages, `X-Total-Count` and `Link` headers, over data with nested
//! objects, arrays, nulls, timestamps with offsets and dates; and the errors a bad file gets.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{duckhaul, free_port, repo_root, temp_dir};

/// json-server on a loopback port, serving a copy of the fixture; killed on drop.
pub(crate) struct JsonServer {
    child: Child,
    pub(crate) url: String,
}

impl JsonServer {
    pub(crate) fn start(dir: &Path) -> JsonServer {
        std::fs::copy(repo_root().join("tests/fixtures/json-server/db.json"), dir.join("db.json")).unwrap();
        JsonServer::serve(dir)
    }

    /// Serving `db` (a json-server database, as JSON) instead of the fixture.
    pub(crate) fn start_with(dir: &Path, db: &serde_json::Value) -> JsonServer {
        std::fs::write(dir.join("db.json"), db.to_string()).unwrap();
        JsonServer::serve(dir)
    }

    /// `start_with`, each answer delayed by `delay_ms` (json-server's own `--delay`).
    pub(crate) fn start_delayed(dir: &Path, db: &serde_json::Value, delay_ms: u64) -> JsonServer {
        std::fs::write(dir.join("db.json"), db.to_string()).unwrap();
        JsonServer::serve_with(dir, &["--delay", &delay_ms.to_string()])
    }

    fn serve(dir: &Path) -> JsonServer {
        JsonServer::serve_with(dir, &[])
    }

    fn serve_with(dir: &Path, options: &[&str]) -> JsonServer {
        let bin = std::env::var("DUCKHAUL_JSON_SERVER")
            .expect("DUCKHAUL_JSON_SERVER is not set: run the tests through scripts/test (it installs json-server)");
        let port = free_port();
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--quiet"])
            .args(options)
            .arg("db.json")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = JsonServer { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while reqwest::blocking::get(format!("{}/orders?_limit=1", server.url)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "json-server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check(file: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = duckhaul();
    cmd.args(["sources", "check"]).arg(file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_source_file_is_checked_against_a_real_rest_server() {
    let (_tmp, dir) = temp_dir();
    let server = JsonServer::start(&dir);
    let file = dir.join("shop.toml");
    std::fs::write(
        &file,
        format!(
            r#"
base_url = "{url}"
rate_limit_per_minute = 0
headers = {{ "User-Agent" = "duckhaul-test" }}

[auth]
kind = "query"
param = "api_key"
token_env = "SHOP_KEY"

[resources.orders]
path = "/orders"
records = ""

[resources.orders.pagination]
kind = "page"
page_param = "_page"
size_param = "_limit"
page_size = 50
total = "header:X-Total-Count"

[resources.orders.columns]
total = "DOUBLE"
id = "INTEGER"

[resources.linked]
path = "/orders"
table = "orders_linked"
records = ""
params = {{ _page = 1, _limit = 40 }}

[resources.linked.pagination]
kind = "link_header"
"#,
            url = server.url
        ),
    )
    .unwrap();
    let output = check(&file, &[("SHOP_KEY", "s3cret-key-value")]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"), "the secret was printed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("source shop ({}): {}, auth query (SHOP_KEY)", file.display(), server.url)),
        "{stdout}"
    );

    // page: the first page of 50, the total from the header, the next page by number.
    assert!(stdout.contains(&format!("GET {}/orders?_page=1&_limit=50 -> 200: 50 records", server.url)), "{stdout}");
    assert!(stdout.contains("  total: 137\n  next: page 2\n"), "{stdout}");
    // The table: declared types as declared (INTEGER is stored as BIGINT), the rest inferred
    // from the records, nested and all, in the order the API gives its fields.
    let orders = r#"CREATE TABLE "orders" (
    "id" BIGINT,
    "customer" STRUCT("name" VARCHAR, "email" VARCHAR, "address" STRUCT("city" VARCHAR, "zip" VARCHAR)),
    "items" STRUCT("sku" VARCHAR, "qty" BIGINT, "price" DOUBLE)[],
    "total" DOUBLE,
    "paid" BOOLEAN,
    "created_at" TIMESTAMPTZ,
    "ship_date" DATE,
    "note" VARCHAR,
    "tags" VARCHAR[],
    _job_id VARCHAR NOT NULL,"#;
    assert!(stdout.contains(orders), "{stdout}");
    // The BigQuery schema: lists REPEATED, structs RECORD, TIMESTAMPTZ a TIMESTAMP.
    let bigquery_start = stdout.find("BigQuery schema of orders:\n").expect("a BigQuery schema") + 27;
    let bigquery: serde_json::Value =
        serde_json::Deserializer::from_str(&stdout[bigquery_start..]).into_iter().next().unwrap().unwrap();
    let field = |name: &str| bigquery.as_array().unwrap().iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!((field("items")["type"].as_str(), field("items")["mode"].as_str()), (Some("RECORD"), Some("REPEATED")));
    assert_eq!(field("created_at")["type"], "TIMESTAMP");
    assert_eq!(field("total")["type"], "FLOAT");
    assert_eq!(field("customer")["fields"][2]["fields"][0]["name"], "city");

    // link_header: json-server's RFC 8288 header names the next page.
    assert!(stdout.contains("resource linked -> table orders_linked (link_header pagination)"), "{stdout}");
    assert!(stdout.contains(&format!("GET {}/orders?_page=1&_limit=40 -> 200: 40 records", server.url)), "{stdout}");
    // The query key is not in it: json-server echoes every parameter into its links.
    assert!(stdout.contains(&format!("next: URL {}/orders?_page=2&_limit=40\n", server.url)), "{stdout}");
}

#[test]
fn a_bad_source_file_says_which_file_key_and_why() {
    let (_tmp, dir) = temp_dir();
    let server = JsonServer::start(&dir);
    let cases: [(&str, &str, &[(&str, &str)], &str); 4] = [
        (
            "typo",
            "[resources.orders]\npath = \"/orders\"\nrecords = \"\"\n[resources.orders.pagination]\nkind = \"page\"\npage_sise = 10\n",
            &[],
            "resources.orders.pagination.page_sise",
        ),
        (
            "nosecret",
            "[auth]\nkind = \"bearer\"\ntoken_env = \"DUCKHAUL_TEST_NO_SUCH_TOKEN\"\n[resources.orders]\npath = \"/orders\"\nrecords = \"\"\n",
            &[],
            "DUCKHAUL_TEST_NO_SUCH_TOKEN",
        ),
        (
            "pointer",
            "[resources.orders]\npath = \"/orders\"\nrecords = \"/data\"\n",
            &[],
            "the records pointer \"/data\" found nothing in the body, not an array",
        ),
        (
            "badtype",
            "[resources.orders]\npath = \"/orders\"\nrecords = \"\"\n[resources.orders.columns]\ntotal = \"MONEY\"\n",
            &[],
            "resources.orders.columns.total",
        ),
    ];
    for (name, body, env, expected) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, format!("base_url = \"{}\"\n{body}", server.url)).unwrap();
        let output = check(&file, env);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{name} was accepted: {}", text(&output.stdout));
        assert!(stderr.contains(&file.display().to_string()), "{name}: the file is not named: {stderr}");
        assert!(stderr.contains(expected), "{name}: expected {expected:?} in: {stderr}");
    }
}

/// `duckhaul fake-api` with its generic mode behind `token`; killed on drop.
pub(crate) struct FakeApi {
    child: Child,
    pub(crate) url: String,
}

impl FakeApi {
    pub(crate) fn start(token: &str) -> FakeApi {
        let port = free_port();
        let child = duckhaul()
            .args(["fake-api", "--listen", &format!("127.0.0.1:{port}"), "--generic-token", token])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let api = FakeApi { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while reqwest::blocking::get(format!("{}/__fake/stats", api.url)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "fake-api did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        api
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_pagination_and_auth_kind_is_checked_against_the_generic_fake() {
    let (_tmp, dir) = temp_dir();
    let api = FakeApi::start("t0ken-value");
    let cases = [
        (
            "offsets",
            r#"[auth]
kind = "bearer"
token_env = "FAKE_TOKEN"
[resources.users]
path = "/generic/offset/users"
params = { total = 130 }
records = "/data"
[resources.users.pagination]
kind = "offset"
offset_param = "offset"
limit_param = "limit"
page_size = 50
total = "/meta/total""#,
            vec!["-> 200: 50 records", "  total: 130\n", "  next: offset 50\n"],
        ),
        (
            "cursors",
            r#"[auth]
kind = "header"
header = "X-Api-Key"
token_env = "FAKE_TOKEN"
[resources.users]
path = "/generic/cursor/users"
params = { total = 130, limit = 40 }
records = "/data"
[resources.users.pagination]
kind = "cursor"
cursor = "/next_cursor"
cursor_param = "cursor""#,
            vec!["-> 200: 40 records", "  next: cursor "],
        ),
        (
            "links",
            r#"[auth]
kind = "query"
param = "api_key"
token_env = "FAKE_TOKEN"
[resources.users]
path = "/generic/next/users"
params = { total = 130, limit = 60 }
records = "/items"
[resources.users.pagination]
kind = "next_url"
next_url = "/links/next""#,
            vec!["-> 200: 60 records", "/generic/next/users?after=60&limit=60&total=130\n"],
        ),
        (
            "basic",
            r#"[auth]
kind = "basic"
username_env = "FAKE_USER"
password_env = "FAKE_TOKEN"
[resources.users]
path = "/generic/offset/users"
records = "/data""#,
            // The fake echoes the credential it was given (base64 of user:password): masked.
            vec!["answered 401 Unauthorized", "Basic *** is not a valid key"],
        ),
    ];
    for (name, body, expected) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, format!("base_url = \"{}\"\n{body}\n", api.url)).unwrap();
        let output = check(&file, &[("FAKE_TOKEN", "t0ken-value"), ("FAKE_USER", "someone")]);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(!stdout.contains("t0ken-value") && !stderr.contains("t0ken-value"), "{name} printed the secret");
        let all = format!("{stdout}{stderr}");
        for e in expected {
            assert!(all.contains(e), "{name}: expected {e:?} in:\n{all}");
        }
        if name == "basic" {
            // The generic fake takes no Basic credentials: the check says the server refused.
            assert!(!output.status.success(), "{all}");
            continue;
        }
        assert!(output.status.success(), "{name}: {all}");
        // The generated users, typed from the page: the index the fake adds first.
        assert!(
            stdout.contains("CREATE TABLE \"users\" (\n    \"_index\" BIGINT,\n    \"id\" BIGINT,"),
            "{name}: {stdout}"
        );
    }
}
