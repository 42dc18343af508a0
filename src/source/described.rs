//! A described source's pages, fetched by the same client as Faker's: the same pace per path
//! (keyed `source/path`, at the file's `rate_limit_per_minute`), the same retries of faults
//! and waiting out of 429s, the same metrics. What differs is the request (the file's headers,
//! auth and fixed parameters, then the page's position) and the reading of the answer: the
//! records at the resource's pointer, decoded by the schema-driven decoder, and what the page
//! says of the total and the next page (`paging`).
//!
//! Credentials are added to a request just before it is sent and never kept: errors carry no
//! URL (an API key may be in its query), and next URLs are stripped of the key (`Paging`).

use std::sync::Arc;

use duckdb::arrow::record_batch::RecordBatch;
use tokio_util::sync::CancellationToken;

use super::paging::{PageAnswer, PageOutcome, PageRequest, Paging, PagingError, Position};
use super::{FetchError, FetchEvent, LimitHeaders, PaceSettings, Reply, Upstream, fetch_error, read_reply};
use crate::catalog::decode::{DecodeError, decode_fitting_records_at};
use crate::catalog::evolve::{Contract, EvolveError, EvolvedPage, evolve_page};
use crate::catalog::infer::{InferError, infer_schema};
use crate::catalog::pointer::JsonPointer;
use crate::catalog::sources::{Source, SourceResource};
use crate::catalog::{Field, Schema};

/// One resource of a described source, ready to fetch pages of.
#[derive(Debug, Clone)]
pub struct SourceTarget {
    source: Arc<Source>,
    resource: SourceResource,
    paging: Paging,
    records: JsonPointer,
    /// `source/path`: the pace its requests share, their metrics label and log name.
    key: String,
}

impl SourceTarget {
    /// The resource `resource` of `source`; `None` when the source has no such resource.
    pub fn new(source: Arc<Source>, resource: &str) -> Option<anyhow::Result<SourceTarget>> {
        let resource = source.resource(resource)?.clone();
        Some(Self::of(source, resource))
    }

    fn of(source: Arc<Source>, resource: SourceResource) -> anyhow::Result<SourceTarget> {
        let records = JsonPointer::parse(&resource.records)
            .map_err(|e| anyhow::anyhow!("resources.{}.records: {e}", resource.name))?;
        let paging = Paging::new(&source, &resource);
        let key = format!("{}{}", source.name, resource.path);
        Ok(SourceTarget { source, resource, paging, records, key })
    }

    /// Where its records are in a body.
    pub fn records(&self) -> &JsonPointer {
        &self.records
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn resource(&self) -> &SourceResource {
        &self.resource
    }

    pub fn paging(&self) -> &Paging {
        &self.paging
    }

    /// `source/path`, as metrics and logs name its requests.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The schema a page is decoded with.
#[derive(Debug, Clone, Copy)]
pub enum PageSchema<'a> {
    /// The table's as it is now (`declared`: the file's columns, which never change): a page
    /// that does not fit it is taken record by record under `contract` (`catalog::evolve`).
    Known { schema: &'a Schema, declared: &'a [Field], contract: Contract },
    /// A first page: the table is inferred from it, with these declared columns.
    Infer { declared: &'a [Field], contract: Contract },
}

/// A fetched and decoded page of a described source.
#[derive(Debug)]
pub struct SourcePage {
    /// The records, one column per field of the schema.
    pub batch: RecordBatch,
    /// The total and next position the page states (both `None` unless asked to `follow`).
    pub outcome: PageOutcome,
    /// The schema inferred from this page, when it was asked for (`PageSchema::Infer`).
    pub inferred: Option<Schema>,
    /// The page taken record by record, when it did not fit the schema it was fetched with
    /// (`batch` is then its records that load).
    pub misfit: Option<Misfit>,
    pub attempts: u32,
}

impl SourcePage {
    /// The records the page held: those loaded and those quarantined.
    pub fn records(&self) -> usize {
        self.misfit.as_ref().map_or(self.batch.num_rows(), |m| m.evolved.records)
    }
}

/// A page that did not fit the table's schema: what evolving it gave, the schema it started
/// from (a page fetched in parallel may have widened the table since: the caller then takes the
/// body again against the table's schema), and the body.
#[derive(Debug)]
pub struct Misfit {
    pub base: Schema,
    pub evolved: EvolvedPage,
    pub body: bytes::Bytes,
}

impl Upstream {
    /// Requests per minute `target`'s path is paced at now; `None` when unlimited.
    pub fn source_pace_per_minute(&self, target: &SourceTarget) -> Option<f64> {
        self.path_pace(&target.key, self.source_pace(target)).per_minute()
    }

    fn source_pace(&self, target: &SourceTarget) -> PaceSettings {
        PaceSettings {
            requests_per_minute: f64::from(target.source.rate_limit_per_minute) / f64::from(self.shared_by),
            burst: self.burst(),
        }
    }

    /// Fetches and decodes the page of `target` at `position`, retrying faults and waiting out
    /// 429s as Faker's pages do. `follow`: also read the total and the next position from the
    /// answer (a planned page of an addressable resource need not).
    #[allow(clippy::too_many_arguments)]
    pub async fn fetch_source_page(
        &self,
        target: &SourceTarget,
        position: &Position,
        schema: PageSchema<'_>,
        follow: bool,
        job_limit: Option<&governor::DefaultDirectRateLimiter>,
        cancel: &CancellationToken,
        on_event: &(dyn Fn(FetchEvent<'_>) + Sync),
    ) -> Result<SourcePage, FetchError> {
        // A position that is not one of this pagination's is a stored position gone stale
        // (the file changed under a job): not worth retrying.
        let request = target.paging.request(position).map_err(|e| FetchError::Shape(e.to_string()))?;
        let pace = self.path_pace(&target.key, self.source_pace(target));
        let (page, attempts) = self
            .with_retries(&target.key, cancel, on_event, || async {
                let reply = self
                    .exchange(&target.key, &pace, job_limit, on_event, || self.send_source(target, &request))
                    .await?;
                read_page(target, position, schema, follow, &reply)
            })
            .await?;
        Ok(SourcePage { attempts, ..page })
    }

    async fn send_source(
        &self,
        target: &SourceTarget,
        request: &PageRequest,
    ) -> (LimitHeaders, Result<Reply, FetchError>) {
        match source_request(&self.http, &target.source, request).send().await {
            // An error body may echo the credentials it was sent: it is masked before it is
            // cut short and kept (failed_pages, logs).
            Ok(response) => read_reply(response, true, target.source.auth.as_ref()).await,
            // Without the URL: its query may hold the source's API key.
            Err(e) => (LimitHeaders::default(), Err(FetchError::from_transport(e.without_url()))),
        }
    }
}

/// The GET of `request` with `source`'s headers and credentials: the one place they are added
/// (what it builds holds the secret in clear: send it, never log it).
pub(super) fn source_request(
    http: &reqwest::Client,
    source: &Source,
    request: &PageRequest,
) -> reqwest::RequestBuilder {
    let mut headers = source.headers.clone();
    let mut query = request.query.clone();
    if let Some(auth) = &source.auth {
        auth.apply(&mut headers, &mut query);
    }
    let mut call = http.get(&request.url).query(&query);
    for (name, value) in &headers {
        call = call.header(name.as_str(), value.as_str());
    }
    call
}

/// Decodes one answer and reads what it says of the next page.
fn read_page(
    target: &SourceTarget,
    position: &Position,
    schema: PageSchema<'_>,
    follow: bool,
    reply: &Reply,
) -> Result<SourcePage, FetchError> {
    let inferred = match schema {
        PageSchema::Known { .. } => None,
        PageSchema::Infer { declared, .. } => match infer_schema(&reply.body, &target.records, declared) {
            Ok(schema) => Some(schema),
            // No records and nothing declared: no table to make yet, nor any row to store.
            Err(InferError::NoColumns { .. }) => {
                let empty = RecordBatch::new_empty(Arc::new(duckdb::arrow::datatypes::Schema::empty()));
                let outcome = PageOutcome { total: None, next: None };
                return Ok(SourcePage { batch: empty, outcome, inferred: None, misfit: None, attempts: 0 });
            }
            Err(InferError::Body(e)) => return Err(fetch_error(e)),
            Err(other) => return Err(FetchError::Shape(other.to_string())),
        },
    };
    let (schema, declared, contract) = match (schema, &inferred) {
        (PageSchema::Known { schema, declared, contract }, _) => (schema, declared, contract),
        // A first page's records may not fit the columns the file declares.
        (PageSchema::Infer { declared, contract }, inferred) => {
            (inferred.as_ref().expect("inferred above"), declared, contract)
        }
    };
    let (batch, misfit) = match decode_fitting_records_at(schema, &reply.body, &target.records) {
        Ok(page) => (page.batch, None),
        // Only a page that cannot mean what the table says is taken record by record.
        Err(DecodeError::Shape(_)) => {
            let evolved =
                evolve_page(schema, declared, &reply.body, &target.records, contract).map_err(|e| match e {
                    EvolveError::Body(e) => fetch_error(e),
                    frozen => FetchError::Shape(frozen.to_string()),
                })?;
            let misfit = Misfit { base: schema.clone(), body: reply.body.clone(), evolved };
            let batch = misfit.evolved.batch.clone();
            (batch, Some(misfit))
        }
        Err(e) => return Err(fetch_error(e)),
    };
    // Quarantined records are records of the page too: a short page ends a walk.
    let records = misfit.as_ref().map_or(batch.num_rows(), |m| m.evolved.records);
    let outcome = match follow {
        true => {
            let answer = PageAnswer { url: &reply.url, headers: &reply.headers, body: &reply.body, records };
            target.paging.read(position, &answer).map_err(|e| match e {
                PagingError::BadBody(m) => FetchError::InvalidBody(m),
                e => FetchError::Shape(e.to_string()),
            })?
        }
        false => PageOutcome { total: None, next: None },
    };
    Ok(SourcePage { batch, outcome, inferred, misfit, attempts: 0 })
}
