//! Log lines as Cloud Logging's structured JSON: one object per line with `severity` (its
//! names: DEBUG, INFO, WARNING, ERROR), `message`, `time`, `logging.googleapis.com/sourceLocation`,
//! then the fields of the event and of every span it happens in (outermost first, inner ones
//! winning). A request span's `logging.googleapis.com/trace` field (see `cloud_trace`) thereby
//! lands at the top level, where Cloud Logging groups the line under the request's trace.
//!
//! Not `tracing-stackdriver` (0.10): it writes no sourceLocation, nests span fields under
//! `span`/`spans` and camel-cases every key, so a `logging.googleapis.com/trace` field cannot
//! reach the top level; it correlates traces only through OpenTelemetry (0.22, beside our
//! 0.33); and it prints `f64` fields as strings.

use std::fmt;

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Cloud Logging's name for a level (it has no TRACE).
pub fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// A layer that keeps each span's fields as JSON values, for [`CloudLogging`] to print.
pub struct SpanFields;

/// The fields recorded on one span so far.
#[derive(Default)]
struct RecordedFields(Map<String, Value>);

impl<S> tracing_subscriber::Layer<S> for SpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = RecordedFields::default();
        attrs.record(&mut JsonVisitor(&mut fields.0));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<RecordedFields>() {
            values.record(&mut JsonVisitor(&mut fields.0));
        }
    }
}

/// The event formatter: see the module's description.
pub struct CloudLogging;

impl<S, N> FormatEvent<S, N> for CloudLogging
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(recorded) = span.extensions().get::<RecordedFields>() {
                    fields.extend(recorded.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::String(String::new()));

        let mut line = Map::new();
        line.insert("severity".into(), severity(meta.level()).into());
        line.insert("message".into(), message);
        line.insert("time".into(), chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into());
        line.insert("target".into(), meta.target().into());
        if let (Some(file), Some(n)) = (meta.file(), meta.line()) {
            line.insert(
                "logging.googleapis.com/sourceLocation".into(),
                json!({"file": file, "line": n.to_string(), "function": meta.module_path().unwrap_or_default()}),
            );
        }
        for (key, value) in fields {
            line.entry(key).or_insert(value);
        }
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Records tracing fields as JSON values: numbers and booleans stay typed, the rest is text.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}
