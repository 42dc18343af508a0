//! `duckhaul run`: one ingest (and optionally an export of what it wrote) without a server,
//! for Cloud Run Jobs, cron and the README's first command. Exits non-zero on failure.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::app::Services;
use crate::config::Settings;
use crate::export::{self, ExportMode, ExportRequest};
use crate::ingest::{self, IngestRequest};
use crate::jobs::{JobState, JobView, Spawned};

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The resource to ingest (users, persons, companies, …, custom).
    #[arg(long, default_value = "users")]
    pub resource: String,
    /// Total records.
    #[arg(long, default_value_t = 10_000)]
    pub quantity: i64,
    /// Base seed (page i uses seed + i); drawn at random when absent.
    #[arg(long)]
    pub seed: Option<i64>,
    /// Faker locale, e.g. de_DE.
    #[arg(long)]
    pub locale: Option<String>,
    /// Records per upstream request (at most 1000).
    #[arg(long)]
    pub page_size: Option<i64>,
    /// A resource parameter, name=value (repeatable), e.g. --param gender=female.
    #[arg(long = "param", value_parser = parse_pair)]
    pub params: Vec<(String, String)>,
    /// custom: a field, name=type (repeatable), e.g. --field email=email.
    #[arg(long = "field", value_parser = parse_pair)]
    pub fields: Vec<(String, String)>,
    /// custom: the table to write.
    #[arg(long)]
    pub table: Option<String>,
    /// Export the ingested table when the ingest succeeds.
    #[arg(long)]
    pub export: bool,
    /// Export mode: snapshot or incremental.
    #[arg(long, default_value = "snapshot", value_parser = ["snapshot", "incremental"])]
    pub mode: String,
    #[command(flatten)]
    pub settings: Settings,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected name=value, got '{s}'"))
}

impl RunArgs {
    fn request(&self) -> IngestRequest {
        IngestRequest {
            resource: self.resource.clone(),
            quantity: self.quantity,
            locale: self.locale.clone(),
            seed: self.seed,
            page_size: self.page_size,
            // --concurrency (DUCKHAUL_CONCURRENCY) is the shared setting, used as the default.
            concurrency: None,
            rate_limit_per_minute: None,
            deadline_secs: None,
            params: self.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
            fields: (!self.fields.is_empty()).then(|| self.fields.iter().cloned().collect::<BTreeMap<_, _>>()),
            table: self.table.clone(),
        }
    }
}

/// Runs the ingest (and export); prints each finished job as JSON on stdout. Returns whether
/// everything succeeded.
pub async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let config = args.settings.validate()?;
    let request = args.request();
    let plan = request.validate(config.concurrency).map_err(|e| anyhow::anyhow!("invalid request: {e}"))?;
    let table = plan.table.clone();
    let services = Services::start(&config).await?;
    let state = &services.state;

    let job = started(ingest::start(&state.ingest, plan, &request, None).await.map_err(|e| anyhow::anyhow!("{e}"))?)?;
    tracing::info!(job = %job.id, table, "ingest started");
    job.finished().await;
    let ingested = job.view();
    print_job(&ingested)?;
    let mut ok = ingested.state == JobState::Succeeded;

    if ok && args.export {
        let mode = if args.mode == "incremental" { ExportMode::Incremental } else { ExportMode::Snapshot };
        let request = ExportRequest { tables: Some(vec![table]), mode };
        let job = started(export::start(&state.export, request, None).await.map_err(|e| anyhow::anyhow!("{e}"))?)?;
        job.finished().await;
        let exported = job.view();
        print_job(&exported)?;
        ok = exported.state == JobState::Succeeded;
    }
    services.shutdown().await;
    Ok(ok)
}

fn started(spawned: Spawned) -> anyhow::Result<std::sync::Arc<crate::jobs::Job>> {
    match spawned {
        Spawned::New(job) => Ok(job),
        Spawned::Existing(view) => anyhow::bail!("job {} already exists", view.id),
    }
}

fn print_job(job: &JobView) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(job).context("cannot print the job")?);
    Ok(())
}
