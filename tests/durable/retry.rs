//! Done when 2 and 3 (next-URL paging): a Cloud Scheduler ingest lost after 30 or more of its
//! 100 pages; on a fresh instance Scheduler's retry (same headers, same body) returns the job
//! its key started, which fetches none of the pages made durable before the loss (at most the
//! one in flight) and succeeds; the export holds each of the 100 pages once; a third delivery
//! fetches nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::exports::exported;
use crate::instance::{Destination, Instance, LONG, Upstream, wait_until};
use crate::proxy::Proxy;

const SCHEDULER: [(&str, &str); 2] =
    [("X-CloudScheduler-JobName", "haul-nightly"), ("X-CloudScheduler-ScheduleTime", "2026-12-03T02:00:00Z")];

/// Waits until a fresh instance would find at least `pages` pages of job `id` durable (asking
/// instances that only recover, beside the running one); `alive` answers `Err` (what it saw)
/// once the job no longer runs on its instance.
pub fn wait_until_durable(
    destination: &Destination,
    upstream: &str,
    env: &[(&str, &str)],
    id: &str,
    pages: i64,
    alive: &mut dyn FnMut() -> Result<(), String>,
) {
    wait_until(&format!("{pages} durable pages of {id}"), LONG, || {
        if let Err(seen) = alive() {
            panic!("the job finished before {pages} of its pages were durable: {seen}");
        }
        durable_pages(destination, upstream, env, id).is_some_and(|durable| durable >= pages)
    });
}

/// The pages of job `id` a fresh instance finds durable, as it shows them before resuming
/// anything (that instance is lost again at once); `None` if it does not know the job.
pub fn durable_pages(destination: &Destination, upstream: &str, env: &[(&str, &str)], id: &str) -> Option<i64> {
    let env: Vec<(&str, &str)> = env.iter().copied().chain([("DUCKHAUL_RESUME_AT_START", "false")]).collect();
    let probe = Instance::start(destination, upstream, &env);
    let (status, job) = probe.get(&format!("/jobs/{id}"));
    probe.lose();
    if status == 404 {
        return None;
    }
    assert_eq!((status, job["state"].as_str()), (200, Some("interrupted")), "{job}");
    Some(job["pages_done"].as_i64().unwrap())
}

/// `Ok` while the job is queued or running.
pub fn running(job: Value) -> Result<(), String> {
    match job["state"].as_str() {
        Some("queued" | "running") => Ok(()),
        _ => Err(job.to_string()),
    }
}

/// Delivers the scheduled ingest to `instance`: Scheduler's headers, `body`.
fn deliver(instance: &Instance, body: &Value) -> (u16, Value) {
    instance.post("/ingest", &SCHEDULER, body)
}

/// The scenario of Done when 2 on `body` (100 pages): returns the job's id once a third
/// delivery, to yet another fresh instance, has fetched nothing. `fetched` counts the pages
/// asked of the upstream so far.
fn scheduled_ingest_lost_and_retried(
    destination: &Destination,
    upstream: &str,
    env: &[(&str, &str)],
    body: &Value,
    fetched: &dyn Fn() -> usize,
) -> String {
    let first = Instance::start(destination, upstream, env);
    let (status, job) = deliver(&first, body);
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    wait_until_durable(destination, upstream, env, &id, 30, &mut || running(first.job(&id)));
    first.lose();
    let before = fetched();
    let durable = durable_pages(destination, upstream, env, &id).unwrap();
    eprintln!("{durable} pages durable after the loss, {before} fetched");
    assert!(before >= durable as usize, "{before} pages fetched, {durable} durable");

    let fresh = Instance::start(destination, upstream, env);
    let (status, again) = deliver(&fresh, body);
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())), "the retry started another job: {again}");
    let done = fresh.finished(&id);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", fresh.log_tail());
    assert_eq!(done["pages_done"], 100, "{done}");
    let refetched = fetched() - before;
    eprintln!("the retry fetched {refetched} pages");
    // Of the 100 pages, `durable` were durable before the loss: the others, and at most the
    // one in flight, are fetched again.
    assert!(
        refetched <= 100 - durable as usize + 1,
        "the fresh instance fetched {refetched} pages where {durable} of 100 were durable before the loss"
    );

    let export = fresh.export(done["table"].as_str().unwrap());
    assert_eq!(export["state"], "succeeded", "{export}\n{}", fresh.log_tail());

    let (status, third) = deliver(&fresh, body);
    assert_eq!((status, third["id"].as_str()), (200, Some(id.as_str())), "{third}");
    fresh.lose();
    let last = Instance::start(destination, upstream, env);
    let (status, fourth) = deliver(&last, body);
    assert_eq!((status, fourth["id"].as_str()), (200, Some(id.as_str())), "after a second loss: {fourth}");
    let recorded = last.finished(&id);
    assert_eq!(recorded["state"], "succeeded", "{recorded}");
    // A moment for a wrongly restarted job to ask for a page.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fetched() - before, refetched, "a third delivery fetched pages again");
    id
}

#[test]
fn a_scheduler_retry_on_a_fresh_instance_fetches_only_the_pages_not_durable() {
    // Slow enough that the probes (a process each) see 30 durable pages before the job ends,
    // on a machine busy with the other tests.
    let upstream = Upstream::start(600);
    let destination = Destination::gcs();
    let body = json!({"resource": "users", "quantity": 100000, "page_size": 1000, "concurrency": 1, "seed": 21});
    let id = scheduled_ingest_lost_and_retried(&destination, &upstream.url(), &[], &body, &|| upstream.users_pages());
    let exported = exported(&destination, "users");
    exported.assert_each_page_once(Some(&id), 0..100, 1000);
    assert_eq!(exported.query_i64("SELECT count(DISTINCT uuid) FROM {rows}"), 100000);
}

/// json-server (a REST server none of us wrote) serving 1,000 orders, 10 a page, its `Link`
/// header naming the next page; behind a proxy that counts and slows the pages.
struct Shop {
    server: std::process::Child,
    proxy: Proxy,
    /// Requests for orders before duckhaul's (the test's own probe).
    probes: usize,
    dir: tempfile::TempDir,
}

impl Shop {
    fn start() -> Shop {
        let bin = std::env::var("DUCKHAUL_JSON_SERVER")
            .expect("DUCKHAUL_JSON_SERVER is not set: source scripts/test-env.sh (it installs json-server)");
        let dir = tempfile::tempdir().unwrap();
        let orders: Vec<Value> = (1..=1000)
            .map(|i| json!({"id": i, "sku": format!("sku-{}", i % 37), "qty": i % 7, "total": i as f64 * 1.5}))
            .collect();
        std::fs::write(dir.path().join("db.json"), json!({ "orders": orders }).to_string()).unwrap();
        let port = crate::instance::free_port();
        let server = std::process::Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--quiet", "db.json"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let proxy = Proxy::start(&format!("http://127.0.0.1:{port}"));
        let probe = format!("{}/orders?_limit=1", proxy.url());
        wait_until("json-server", LONG, || reqwest::blocking::get(&probe).is_ok_and(|r| r.status() == 200));
        proxy.set_delay_ms(600);
        let probes = proxy.count("/orders");
        let sources = dir.path().join("sources");
        std::fs::create_dir(&sources).unwrap();
        let file = format!(
            "base_url = \"{}\"\nrate_limit_per_minute = 0\n\n[resources.orders]\npath = \"/orders\"\nrecords = \"\"\n\
             params = {{ _page = 1, _limit = 10 }}\npagination = {{ kind = \"link_header\" }}\n",
            proxy.url()
        );
        std::fs::write(sources.join("shop.toml"), file).unwrap();
        Shop { server, proxy, probes, dir }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn a_followed_walk_retried_on_a_fresh_instance_resumes_from_its_durable_position() {
    let shop = Shop::start();
    let destination = Destination::gcs();
    let sources = shop.dir.path().join("sources");
    let env = [("DUCKHAUL_SOURCES_DIR", sources.to_str().unwrap())];
    let body = json!({"source": "shop", "resource": "orders"});
    let fetched = || shop.proxy.count("/orders") - shop.probes;
    let id = scheduled_ingest_lost_and_retried(&destination, "builtin", &env, &body, &fetched);
    let exported = exported(&destination, "orders");
    assert_eq!(exported.pages.len(), 100, "{:?}", exported.pages.keys().collect::<Vec<_>>());
    let first = exported.pages.keys().next().unwrap().1;
    exported.assert_each_page_once(Some(&id), first..first + 100, 10);
    assert_eq!(exported.query_i64("SELECT count(DISTINCT id) FROM {rows} WHERE id BETWEEN 1 AND 1000"), 1000);
}

#[test]
fn a_scheduler_retry_after_an_early_loss_returns_the_job_its_key_started() {
    // The issue: a job's request, key and state live in the destination, so Scheduler's retry
    // on a fresh instance finds its job, however early the first instance was lost.
    let upstream = Upstream::start(150);
    let destination = Destination::gcs();
    let body = json!({"resource": "users", "quantity": 100000, "page_size": 1000, "concurrency": 1, "seed": 23});
    let first = Instance::start(&destination, &upstream.url(), &[]);
    let (status, job) = deliver(&first, &body);
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    wait_until("5 pages", LONG, || first.job(&id)["pages_done"].as_i64().unwrap() >= 5);
    first.lose();

    let fresh = Instance::start(&destination, &upstream.url(), &[]);
    let (status, again) = deliver(&fresh, &body);
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())), "the retry started another job: {again}");
}
