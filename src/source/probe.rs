//! A dry run of a source file's resource (`duckhaul sources check FILE`): fetch its first page
//! as an ingest would (the file's headers and auth, its fixed parameters and first page), read
//! it as its pagination says, infer the table's schema with the declared columns, and decode
//! the page with that schema to show that its records fit; then read a few more pages
//! (`--pages`) against the table as the pages before left it, saying what each would add,
//! widen or quarantine (`catalog::evolve`). Nothing is stored.
//!
//! So a user can write a source in minutes: every mistake (a wrong records pointer, a total
//! that is not a number, a declared type DuckDB has no use for, a record that does not fit)
//! is said here, before a job runs.

use std::time::Duration;

use anyhow::Context;

use super::paging::{PageAnswer, Paging, Position};
use crate::catalog::decode::decode_records_at;
use crate::catalog::evolve::{QuarantinedRecord, SchemaChange, changes, evolve_page};
use crate::catalog::infer::infer_schema;
use crate::catalog::pointer::JsonPointer;
use crate::catalog::sources::{Source, SourceResource};
use crate::catalog::types::parse_column_type;
use crate::catalog::{Fake, Field, Schema};

/// What the first page of a resource says.
#[derive(Debug)]
pub struct Probe {
    /// The page's URL, without any secret (an API key in the query shows as `***`).
    pub url: String,
    pub status: u16,
    /// Records on the first page, all of which fit `schema`.
    pub records: usize,
    /// The total the pagination reads, if it reads one.
    pub total: Option<u64>,
    /// Where the next page is; `None` when the first page is the last.
    pub next: Option<Position>,
    /// The declared columns, then the inferred ones; widened by the later pages.
    pub schema: Schema,
    /// The pages read after the first (`--pages`).
    pub later: Vec<PageCheck>,
}

/// A page after the first, taken against the table as the pages before it left it.
#[derive(Debug)]
pub struct PageCheck {
    pub url: String,
    /// Its records: loaded and quarantined.
    pub records: usize,
    /// What it added to or widened in the table.
    pub changes: Vec<SchemaChange>,
    /// Its records no widening holds (under `freeze`, the first such record fails the check).
    pub quarantined: Vec<QuarantinedRecord>,
}

/// The declared columns of `resource` as schema fields; a type that does not parse is an
/// error naming its key in the file.
pub fn declared_fields(resource: &SourceResource) -> anyhow::Result<Vec<Field>> {
    resource
        .columns
        .iter()
        .map(|c| {
            let ty = parse_column_type(&c.duckdb_type)
                .with_context(|| format!("resources.{}.columns.{}: {:?}", resource.name, c.name, c.duckdb_type))?;
            Ok(Field::new(&c.name, ty, Fake::Generic))
        })
        .collect()
}

/// Fetches the first page of `resource` and infers its table; then up to `pages - 1` more,
/// following the pagination, each taken against the table as the pages before left it (as an
/// evolving ingest would: `catalog::evolve`), saying what it changed and what it quarantined.
pub async fn probe(source: &Source, resource: &SourceResource, pages: usize) -> anyhow::Result<Probe> {
    let declared = declared_fields(resource)?;
    let records = JsonPointer::parse(&resource.records)
        .map_err(|e| anyhow::anyhow!("resources.{}.records: {e}", resource.name))?;
    let paging = Paging::new(source, resource);
    let http = super::http_client(Duration::from_secs(60))?;
    let position = paging.first();
    let first = fetch(&http, source, &paging, &position).await?;
    let schema = infer_schema(&first.body, &records, &declared).with_context(|| format!("GET {}", first.url))?;
    let page = decode_records_at(&schema, &first.body, &records)
        .with_context(|| format!("GET {}: a record does not fit the table", first.url))?;
    let mut probe = Probe {
        url: first.url,
        status: first.status,
        records: page.batch.num_rows(),
        total: first.outcome.total,
        next: first.outcome.next,
        schema: resource.contract.shaped(schema),
        later: Vec::new(),
    };
    let mut next = probe.next.clone();
    while probe.later.len() + 1 < pages {
        let Some(position) = next.take() else { break };
        let page = fetch(&http, source, &paging, &position).await?;
        let evolved = evolve_page(&probe.schema, &declared, &page.body, &records, resource.contract)
            .with_context(|| format!("GET {}", page.url))?;
        let changes = changes(&probe.schema, &evolved.schema);
        probe.schema = evolved.schema;
        next = page.outcome.next;
        probe.later.push(PageCheck {
            url: page.url,
            records: evolved.records,
            changes,
            quarantined: evolved.quarantined,
        });
    }
    Ok(probe)
}

/// One page as fetched.
struct Fetched {
    url: String,
    status: u16,
    body: bytes::Bytes,
    outcome: super::paging::PageOutcome,
}

/// GETs the page at `position` and reads what it says of the next one.
async fn fetch(
    http: &reqwest::Client,
    source: &Source,
    paging: &Paging,
    position: &Position,
) -> anyhow::Result<Fetched> {
    let request = paging.request(position)?;
    let shown = shown_url(&request.url, &request.query);
    // Errors of the request itself say the URL without its query: that is where a key would be.
    let response = super::described::source_request(http, source, &request)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GET {shown}: {}", e.without_url()))?;
    let status = response.status();
    let requested = response.url().to_string();
    let answer_headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect();
    let body = response.bytes().await.map_err(|e| anyhow::anyhow!("GET {shown}: {}", e.without_url()))?;
    if !status.is_success() {
        // Masked before it is cut: an error body may echo the credentials it was sent.
        let text = String::from_utf8_lossy(&body).into_owned();
        let text = source.auth.as_ref().map_or(text.clone(), |auth| auth.mask(&text));
        let text: String = text.chars().take(300).collect();
        anyhow::bail!("GET {shown} answered {status}: {text}");
    }
    let value: serde_json::Value =
        serde_json::from_slice(&body).with_context(|| format!("GET {shown}: the body is not JSON"))?;
    let count = paging.records_in(&value)?.len();
    let answer = PageAnswer { url: &requested, headers: &answer_headers, body: &body, records: count };
    let outcome = paging.read(position, &answer)?;
    Ok(Fetched { url: shown, status: status.as_u16(), body, outcome })
}

/// `url?query` as it may be printed: only the file's own parameters and the page's, never
/// the auth (which `Auth::apply` adds after this).
fn shown_url(url: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return url.to_string();
    }
    let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{url}?{}", pairs.join("&"))
}
