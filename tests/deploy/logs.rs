//! Cloud Run's log contract, read from the real binary's stderr: one JSON object per line
//! with `severity`, `message` and, inside a request, `logging.googleapis.com/trace` built from
//! `X-Cloud-Trace-Context` and GOOGLE_CLOUD_PROJECT.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::{self, free_port};

const SEVERITIES: [&str; 4] = ["DEBUG", "INFO", "WARNING", "ERROR"];

/// Every stderr line as a JSON object; panics on a line that is not one.
fn json_lines(stderr: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
            assert!(v.is_object(), "{l}");
            assert!(SEVERITIES.contains(&v["severity"].as_str().unwrap_or("")), "severity: {l}");
            assert!(v["message"].is_string(), "message: {l}");
            v
        })
        .collect()
}

fn with_message<'a>(lines: &'a [Value], message: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["message"] == message).collect()
}

#[test]
fn json_logs_carry_severity_message_and_the_request_trace() {
    let (_dir, path) = cli::temp_dir();
    let port = free_port();
    let child = cli::duckhaul()
        .env("DUCKHAUL_LOG_FORMAT", "json")
        .env("GOOGLE_CLOUD_PROJECT", "duckhaul-test")
        .env("RUST_LOG", "info,tower_http=debug")
        .env("DUCKHAUL_DATABASE", path.join("duckhaul.duckdb"))
        .env("DUCKHAUL_DESTINATION", path.join("exports"))
        .env("DUCKHAUL_UPSTREAM_URL", "builtin")
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().is_err() {
        assert!(Instant::now() < deadline, "the service did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let traced = client
        .post(format!("{base}/ingest?wait=true"))
        .header("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
        .json(&serde_json::json!({"resource": "places", "quantity": 5, "seed": 1}))
        .send()
        .unwrap();
    assert_eq!(traced.status(), 200);
    let w3c = client
        .get(format!("{base}/no-such-route"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
        .send()
        .unwrap();
    assert_eq!(w3c.status(), 404);
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());

    let lines = json_lines(&output.stderr);
    let listening = with_message(&lines, "duckhaul listening");
    assert_eq!(listening.len(), 1, "{lines:#?}");
    assert_eq!(listening[0]["severity"], "INFO");
    assert_eq!(listening[0]["addr"], format!("127.0.0.1:{port}"));
    assert!(listening[0]["time"].as_str().unwrap().ends_with('Z'));
    // The probe requests before had no trace header: no trace on their lines.
    let untraced: Vec<&Value> = lines.iter().filter(|l| l["uri"] == "/healthz").collect();
    assert!(!untraced.is_empty());
    assert!(untraced.iter().all(|l| l.get("logging.googleapis.com/trace").is_none()), "{untraced:#?}");

    // The traced request's lines, and those of the job it started, carry its trace.
    let trace = "projects/duckhaul-test/traces/105445aa7843bc8bf206b12000100000";
    let in_trace: Vec<&Value> = lines.iter().filter(|l| l["logging.googleapis.com/trace"] == trace).collect();
    let messages: Vec<&str> = in_trace.iter().map(|l| l["message"].as_str().unwrap()).collect();
    for expected in ["started processing request", "job started", "job finished", "finished processing request"] {
        assert!(messages.contains(&expected), "{expected} not in {messages:?}");
    }
    let finished = in_trace.iter().find(|l| l["message"] == "finished processing request").unwrap();
    assert_eq!(finished["severity"], "DEBUG");
    assert_eq!(finished["status"], 200);
    assert_eq!(finished["uri"], "/ingest?wait=true");
    assert_eq!(finished["logging.googleapis.com/spanId"], "0000000000000001");
    assert_eq!(finished["logging.googleapis.com/trace_sampled"], true);
    let job = in_trace.iter().find(|l| l["message"] == "job finished").unwrap();
    assert_eq!(job["severity"], "INFO");
    assert_eq!(job["state"], "succeeded");

    // W3C traceparent is understood too.
    let w3c_lines: Vec<&Value> = lines.iter().filter(|l| l["uri"] == "/no-such-route").collect();
    assert!(!w3c_lines.is_empty());
    for l in w3c_lines {
        assert_eq!(l["logging.googleapis.com/trace"], "projects/duckhaul-test/traces/4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(l["logging.googleapis.com/spanId"], "00f067aa0ba902b7");
        assert_eq!(l["logging.googleapis.com/trace_sampled"], false);
    }
}

#[test]
fn on_cloud_run_logs_are_json_by_default_errors_included() {
    // A Cloud Run job (CLOUD_RUN_JOB set) that fails at start: its error is a JSON ERROR line.
    let output =
        cli::duckhaul().env("CLOUD_RUN_JOB", "duckhaul-ingest").args(["run", "--quantity", "0"]).output().unwrap();
    assert!(!output.status.success());
    let lines = json_lines(&output.stderr);
    let error = lines.iter().find(|l| l["severity"] == "ERROR").unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(error["message"].as_str().unwrap().contains("quantity: must be from 1"), "{error}");

    // DUCKHAUL_LOG_FORMAT=text wins over the platform's default.
    let output = cli::duckhaul()
        .env("K_SERVICE", "duckhaul")
        .env("DUCKHAUL_LOG_FORMAT", "text")
        .args(["run", "--quantity", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("duckhaul: invalid request: quantity"), "{stderr}");

    // And a bad value of the setting itself is refused by name.
    let output = cli::duckhaul().env("DUCKHAUL_LOG_FORMAT", "yaml").args(["run"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--log-format") && stderr.contains("yaml"), "{stderr}");
}
