//! A real headless Chromium (Debian's `chromium`, installed by `scripts/test-env.sh`), driven
//! over the Chrome DevTools Protocol: navigate, evaluate JavaScript in the page, screenshot.
//!
//! Blocking on purpose (a websocket and `reqwest::blocking`): call it from `spawn_blocking`.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Browser {
    child: Child,
    profile: tempfile::TempDir,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

/// `DUCKHAUL_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("DUCKHAUL_CHROMIUM") {
        return PathBuf::from(path);
    }
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file());
    found.expect(
        "no chromium on the PATH: run the tests through scripts/test, whose test-env.sh installs Debian's chromium",
    )
}

impl Browser {
    /// Starts Chromium headless with a fresh profile and attaches to its first tab.
    /// `width` × `height` is the window (and screenshot) size in CSS pixels.
    pub fn launch(width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().expect("a profile dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(profile.path().join("chromium.log")).unwrap();
        let child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-proxy-server",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().join("data").display()))
            .arg("--remote-debugging-address=127.0.0.1")
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromium().display()));
        let browser_log = || std::fs::read_to_string(profile.path().join("chromium.log")).unwrap_or_default();
        let http = reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let ws_url = loop {
            let targets: Option<Value> =
                http.get(format!("http://127.0.0.1:{port}/json/list")).send().ok().and_then(|r| r.json().ok());
            let page = targets
                .as_ref()
                .and_then(|t| t.as_array())
                .and_then(|t| t.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(String::from));
            if let Some(url) = page {
                break url;
            }
            assert!(Instant::now() < deadline, "Chromium did not offer a page to drive:\n{}", browser_log());
            std::thread::sleep(Duration::from_millis(100));
        };
        let (socket, _) = tungstenite::connect(ws_url.as_str()).expect("connecting to the page's DevTools socket");
        let mut browser = Browser { child, profile, socket, next_id: 0 };
        browser.resize(width, height);
        browser
    }

    /// Emulates a screen of `width` × `height` CSS pixels (a phone below 600 wide).
    pub fn resize(&mut self, width: u32, height: u32) {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600});
        self.call("Emulation.setDeviceMetricsOverride", metrics);
    }

    /// Sends one DevTools command and returns its `result`; events in between are skipped.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(message)).unwrap_or_else(|e| panic!("sending {method}: {e}"));
        loop {
            let message = self.socket.read().unwrap_or_else(|e| panic!("reading the answer to {method}: {e}"));
            let Message::Text(text) = message else { continue };
            let answer: Value = serde_json::from_str(text.as_str()).expect("DevTools speaks JSON");
            if answer["id"] == id {
                assert!(answer.get("error").is_none(), "{method} failed: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// Loads `url` and waits until the document has loaded.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval("document.readyState") != "complete" {
            assert!(Instant::now() < deadline, "{url} did not finish loading");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value as JSON.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}));
        assert!(result.get("exceptionDetails").is_none(), "{expression} threw: {result}");
        result["result"]["value"].clone()
    }

    /// Saves a PNG of the page (the whole page, not only the window) at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
        let png =
            base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("a screenshot")).unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.profile;
    }
}
