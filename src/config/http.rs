//! The HTTP surface's own settings (`serve` only): request body limit, request timeout, the
//! longest `?wait=true` hold, the cap on jobs running at once, and optional bearer tokens.

use std::sync::Arc;
use std::time::Duration;

/// `serve`'s HTTP flags.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Largest request body accepted, in bytes (larger answers 413).
    #[arg(long, env = "DUCKHAUL_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// Seconds a request may take before it answers 503 (requests with ?wait=true get
    /// DUCKHAUL_MAX_WAIT_SECS on top).
    #[arg(long, env = "DUCKHAUL_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Longest a ?wait=true request holds before it answers 202 with the job still running.
    #[arg(long, env = "DUCKHAUL_MAX_WAIT_SECS", default_value_t = 3600)]
    pub max_wait_secs: u64,

    /// Jobs queued or running at once; past it, starting one answers 429 with Retry-After.
    #[arg(long, env = "DUCKHAUL_MAX_RUNNING_JOBS", default_value_t = 8)]
    pub max_running_jobs: usize,

    /// Comma-separated bearer tokens; when set, every route but /healthz needs one
    /// (`Authorization: Bearer <token>`). Unset: no auth (rely on Cloud Run IAM).
    #[arg(long, env = "DUCKHAUL_API_TOKENS", hide_env_values = true)]
    pub api_tokens: Option<String>,
}

/// The HTTP settings after validation.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub max_wait: Duration,
    pub max_running_jobs: usize,
    /// Empty: no auth.
    pub api_tokens: Arc<[String]>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_wait: Duration::from_secs(3600),
            max_running_jobs: 8,
            api_tokens: Arc::from(Vec::new()),
        }
    }
}

impl HttpArgs {
    pub fn validate(&self) -> anyhow::Result<HttpConfig> {
        anyhow::ensure!(
            (1024..=1024 * 1024 * 1024).contains(&self.body_limit_bytes),
            "DUCKHAUL_BODY_LIMIT_BYTES must be from 1024 to 1073741824, got {}",
            self.body_limit_bytes
        );
        anyhow::ensure!(
            (1..=86_400).contains(&self.request_timeout_secs),
            "DUCKHAUL_REQUEST_TIMEOUT_SECS must be from 1 to 86400, got {}",
            self.request_timeout_secs
        );
        anyhow::ensure!(
            (1..=86_400).contains(&self.max_wait_secs),
            "DUCKHAUL_MAX_WAIT_SECS must be from 1 to 86400, got {}",
            self.max_wait_secs
        );
        anyhow::ensure!(
            (1..=1024).contains(&self.max_running_jobs),
            "DUCKHAUL_MAX_RUNNING_JOBS must be from 1 to 1024, got {}",
            self.max_running_jobs
        );
        let tokens = parse_tokens(self.api_tokens.as_deref().unwrap_or(""))?;
        Ok(HttpConfig {
            body_limit_bytes: self.body_limit_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            max_wait: Duration::from_secs(self.max_wait_secs),
            max_running_jobs: self.max_running_jobs,
            api_tokens: Arc::from(tokens),
        })
    }
}

/// Splits the comma-separated list; a token must be visible ASCII (it travels in a header)
/// and long enough not to be guessed.
fn parse_tokens(list: &str) -> anyhow::Result<Vec<String>> {
    let tokens: Vec<String> = list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
    for (i, t) in tokens.iter().enumerate() {
        anyhow::ensure!(
            t.len() >= 16 && t.bytes().all(|b| b.is_ascii_graphic()),
            "DUCKHAUL_API_TOKENS: token {} must be at least 16 visible ASCII characters (no spaces)",
            i + 1
        );
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_split_and_checked() {
        assert_eq!(parse_tokens("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_tokens(" aaaaaaaaaaaaaaaa , bbbbbbbbbbbbbbbb,").unwrap(),
            vec!["aaaaaaaaaaaaaaaa".to_string(), "bbbbbbbbbbbbbbbb".to_string()]
        );
        let e = parse_tokens("short").unwrap_err().to_string();
        assert!(e.contains("DUCKHAUL_API_TOKENS"), "{e}");
    }
}
