//! A reverse proxy of our own in front of a real server (the upstream, or fake-gcs-server):
//! it logs every request it forwards, can slow them down, and can hold one write forever, so
//! a test kills duckhaul at an exact step of an export.
//!
//! Absolute URLs the server sends back (json-server's `Link` header, the emulator's upload
//! `Location`) are rewritten to the proxy, so every later request passes through it too.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// What a request is matched on: `METHOD path?query`, percent-decoded, each parameter followed
/// by `&` (`…&name=x/users/dt=…/e.manifest.json&…`). Not the body: an object's name is in the
/// query, and a body may quote other objects' names.
pub type Matcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

enum Hold {
    Off,
    /// The first write that matches.
    Write(Matcher),
    /// The first write of another object after one matching `after` was answered.
    WriteAfter {
        after: Matcher,
        armed: bool,
    },
}

struct Shared {
    target: String,
    origin: String,
    client: reqwest::Client,
    requests: Mutex<Vec<String>>,
    delay_ms: AtomicU64,
    hold: Mutex<Hold>,
    held: AtomicBool,
}

pub struct Proxy {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

static NEXT_ADDRESS: AtomicU32 = AtomicU32::new(0);

impl Proxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to `target` (`http://host:port`).
    pub fn start(target: &str) -> Proxy {
        Proxy::serve(TcpListener::bind("127.0.0.1:0").unwrap(), target)
    }

    /// A proxy on port 80 of a loopback address of its own: the GCS client sends `Host`
    /// without the port, so a proxy for the emulator must sit on port 80 as it does.
    pub fn start_on_port_80(target: &str) -> Proxy {
        for _ in 0..64 {
            let n = std::process::id().wrapping_mul(131).wrapping_add(NEXT_ADDRESS.fetch_add(1, Ordering::Relaxed));
            let address = Ipv4Addr::new(127, 200 + (n % 50) as u8, ((n / 50) % 250) as u8 + 1, (n % 251) as u8 + 2);
            if let Ok(listener) = TcpListener::bind(SocketAddr::from((address, 80))) {
                return Proxy::serve(listener, target);
            }
        }
        panic!("no loopback address with a free port 80 for the GCS proxy");
    }

    fn serve(listener: TcpListener, target: &str) -> Proxy {
        let address = listener.local_addr().unwrap();
        let origin = match address.port() {
            80 => format!("http://{}", address.ip()),
            _ => format!("http://{address}"),
        };
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(300)).build().unwrap();
        let shared = Arc::new(Shared {
            target: target.trim_end_matches('/').to_string(),
            origin,
            client,
            requests: Mutex::default(),
            delay_ms: AtomicU64::new(0),
            hold: Mutex::new(Hold::Off),
            held: AtomicBool::new(false),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        listener.set_nonblocking(true).unwrap();
        let app = axum::Router::new().fallback(forward).with_state(shared.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        Proxy { shared, runtime: Some(runtime) }
    }

    /// `http://127.0.0.1:port`, or `http://127.x.y.z` on port 80.
    pub fn url(&self) -> &str {
        &self.shared.origin
    }

    /// Adds `ms` before forwarding each request.
    pub fn set_delay_ms(&self, ms: u64) {
        self.shared.delay_ms.store(ms, Ordering::Relaxed);
    }

    /// Requests forwarded (or held) so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests so far whose path starts with `path`.
    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.split(' ').nth(1).is_some_and(|p| p.starts_with(path))).count()
    }

    /// Holds, unanswered for good, the first write (POST, PUT, PATCH) that `matches`.
    pub fn hold_write(&self, matches: Matcher) {
        *self.shared.hold.lock().unwrap() = Hold::Write(matches);
    }

    /// Holds the first write of another object (a new upload, not a chunk of one under way)
    /// once a write that matches `after` has been answered.
    pub fn hold_write_after(&self, after: Matcher) {
        *self.shared.hold.lock().unwrap() = Hold::WriteAfter { after, armed: false };
    }

    /// Forwards everything again (a held request stays held).
    pub fn release(&self) {
        *self.shared.hold.lock().unwrap() = Hold::Off;
    }

    pub fn holds_a_request(&self) -> bool {
        self.shared.held.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn is_write(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH")
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    shared.requests.lock().unwrap().push(format!("{method} {target}"));
    // Decoded (`%2F` and `+` undone) so a matcher sees object names as they are.
    let seen = format!(
        "{method} {}",
        url::form_urlencoded::parse(target.as_bytes()).map(|(k, v)| format!("{k}={v}&")).collect::<String>()
    );
    // A chunk of an upload under way names no object of its own.
    let new_object = is_write(&method) && !target.contains("upload_id=") && !target.contains("/upload/resumable/");
    let hold = {
        let hold = shared.hold.lock().unwrap();
        match &*hold {
            Hold::Write(matches) => is_write(&method) && matches(&seen),
            Hold::WriteAfter { after, armed } => *armed && new_object && !after(&seen),
            Hold::Off => false,
        }
    };
    if hold {
        shared.held.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }
    let delay = shared.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    let mut outgoing = shared.client.request(parts.method.clone(), format!("{}{target}", shared.target));
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "accept-encoding" | "connection") {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.body(body).send().await {
        Ok(answer) => answer,
        Err(e) => {
            return Response::builder().status(StatusCode::BAD_GATEWAY).body(Body::from(e.to_string())).unwrap();
        }
    };
    if let Hold::WriteAfter { after, armed } = &mut *shared.hold.lock().unwrap()
        && is_write(&method)
        && after(&seen)
    {
        *armed = true;
    }

    let rewrite = |text: &str| {
        text.replace(&format!("{}/", shared.target), &format!("{}/", shared.origin))
            .replace(&format!("{}:80/", shared.target), &format!("{}/", shared.origin))
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    let mut textual = false;
    for (name, value) in answer.headers() {
        match name.as_str() {
            "content-length" | "transfer-encoding" | "connection" => {}
            "location" | "link" => {
                let value = rewrite(value.to_str().unwrap_or_default());
                response = response.header(name, HeaderValue::from_str(&value).unwrap());
            }
            _ => {
                if name == "content-type" {
                    let kind = value.to_str().unwrap_or_default();
                    textual = kind.contains("json") || kind.starts_with("text/");
                }
                response = response.header(name, value);
            }
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    let body = if textual { Body::from(rewrite(&String::from_utf8_lossy(&bytes))) } else { Body::from(bytes) };
    response.body(body).unwrap()
}
