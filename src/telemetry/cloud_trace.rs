//! The request span, carrying the Cloud Trace context of each request so its log lines are
//! grouped under it: `logging.googleapis.com/trace` = `projects/{project}/traces/{trace-id}`,
//! plus `spanId` and `trace_sampled`, from Cloud Run's `X-Cloud-Trace-Context` header
//! (`TRACE_ID/SPAN_ID;o=1`, the span id in decimal) or, failing that, W3C `traceparent`.
//! Without a project id (`GOOGLE_CLOUD_PROJECT`) there is no trace name, so nothing is added.

use std::sync::Arc;

use axum::http::{HeaderMap, Request};
use tower_http::trace::MakeSpan;
use tracing::Span;
use tracing::field::Empty;

pub const TRACE_FIELD: &str = "logging.googleapis.com/trace";
pub const SPAN_ID_FIELD: &str = "logging.googleapis.com/spanId";
pub const SAMPLED_FIELD: &str = "logging.googleapis.com/trace_sampled";

/// A request's trace, as sent by Cloud Run's front end or a tracing client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 hex digits, as Cloud Logging wants it.
    pub span_id: Option<String>,
    pub sampled: bool,
}

impl TraceContext {
    pub fn from_headers(headers: &HeaderMap) -> Option<TraceContext> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        header("x-cloud-trace-context")
            .and_then(Self::parse_cloud)
            .or_else(|| header("traceparent").and_then(Self::parse_w3c))
    }

    /// `TRACE_ID[/SPAN_ID][;o=OPTIONS]`, the span id a decimal u64.
    pub fn parse_cloud(value: &str) -> Option<TraceContext> {
        let (ids, options) = value.trim().split_once(";o=").map_or((value.trim(), None), |(ids, o)| (ids, Some(o)));
        let (trace, span) = ids.split_once('/').map_or((ids, None), |(t, s)| (t, Some(s)));
        let trace_id = trace_id(trace)?;
        let span_id = span.and_then(|s| s.parse::<u64>().ok()).map(|s| format!("{s:016x}"));
        Some(TraceContext { trace_id, span_id, sampled: options == Some("1") })
    }

    /// `00-TRACE_ID-PARENT_ID-FLAGS`.
    pub fn parse_w3c(value: &str) -> Option<TraceContext> {
        let mut parts = value.trim().split('-');
        let (_version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let span_ok = parent.len() == 16 && parent.bytes().all(|b| b.is_ascii_hexdigit());
        let sampled = u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1);
        Some(TraceContext {
            trace_id: trace_id(trace)?,
            span_id: span_ok.then(|| parent.to_ascii_lowercase()),
            sampled,
        })
    }
}

fn trace_id(s: &str) -> Option<String> {
    (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b != b'0'))
        .then(|| s.to_ascii_lowercase())
}

/// Makes the span of each HTTP request (for `TraceLayer::make_span_with`).
#[derive(Debug, Clone, Default)]
pub struct RequestSpan {
    /// The Google Cloud project the traces belong to.
    project: Option<Arc<str>>,
}

impl RequestSpan {
    pub fn new(project: Option<String>) -> RequestSpan {
        RequestSpan { project: project.filter(|p| !p.is_empty()).map(Arc::from) }
    }
}

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            uri = %request.uri(),
            "logging.googleapis.com/trace" = Empty,
            "logging.googleapis.com/spanId" = Empty,
            "logging.googleapis.com/trace_sampled" = Empty,
        );
        if let (Some(project), Some(trace)) = (&self.project, TraceContext::from_headers(request.headers())) {
            span.record(TRACE_FIELD, format!("projects/{project}/traces/{}", trace.trace_id).as_str());
            if let Some(span_id) = &trace.span_id {
                span.record(SPAN_ID_FIELD, span_id.as_str());
            }
            span.record(SAMPLED_FIELD, trace.sampled);
        }
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_run_headers_parse() {
        let t = TraceContext::parse_cloud("105445aa7843bc8bf206b12000100000/1;o=1").unwrap();
        assert_eq!(t.trace_id, "105445aa7843bc8bf206b12000100000");
        assert_eq!(t.span_id.as_deref(), Some("0000000000000001"));
        assert!(t.sampled);
        let t = TraceContext::parse_cloud("105445AA7843BC8BF206B12000100000").unwrap();
        assert_eq!((t.trace_id.as_str(), t.span_id, t.sampled), ("105445aa7843bc8bf206b12000100000", None, false));
        assert_eq!(TraceContext::parse_cloud("nothex/1;o=1"), None);
        assert_eq!(TraceContext::parse_cloud("00000000000000000000000000000000/1"), None);
    }

    #[test]
    fn w3c_traceparent_parses() {
        let t = TraceContext::parse_w3c("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(t.sampled);
        assert_eq!(TraceContext::parse_w3c("garbage"), None);
    }
}
