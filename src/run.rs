//! `duckhaul run`: one ingest (and optionally an export of what it wrote) without a server,
//! for Cloud Run Jobs, cron and the README's first command. Exits non-zero on failure.
//!
//! On Cloud Run Jobs each task runs it with `CLOUD_RUN_TASK_INDEX`/`CLOUD_RUN_TASK_COUNT`:
//! a task fetches only its share of the pages (`ingest::Shard`) and exports only the rows it
//! wrote, as its own part file, so the tasks together write exactly `--quantity` rows.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::app::Services;
use crate::catalog::evolve::quarantine_table;
use crate::catalog::sources::BUILTIN_SOURCE;
use crate::config::Settings;
use crate::export::{self, ExportMode, ExportRequest, Part};
use crate::ingest::{self, IngestRequest, Shard};
use crate::jobs::{Job, JobState, JobView, Jobs, Spawned};

/// Records a faker run ingests when `--quantity` is not given.
const DEFAULT_FAKER_QUANTITY: i64 = 10_000;

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The source: faker (the built-in Faker API), or the name of a file of DUCKHAUL_SOURCES_DIR.
    #[arg(long, default_value = BUILTIN_SOURCE)]
    pub source: String,
    /// The resource to ingest: for faker users, persons, companies, …, custom; for another
    /// source one of its resources.
    #[arg(long, default_value = "users")]
    pub resource: String,
    /// Total records: 10000 unless given for faker; for another source a cap (every record
    /// of the resource when absent).
    #[arg(long)]
    pub quantity: Option<i64>,
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
    /// Export mode: snapshot or incremental (a task of a split run exports its own rows).
    #[arg(long, default_value = "snapshot", value_parser = ["snapshot", "incremental"])]
    pub mode: String,
    /// This task's number, from 0 (Cloud Run Jobs sets it): it takes the pages p with
    /// p % task-count == task-index.
    #[arg(long, env = "CLOUD_RUN_TASK_INDEX", default_value_t = 0)]
    pub task_index: u32,
    /// How many tasks share the job's pages (Cloud Run Jobs sets it).
    #[arg(long, env = "CLOUD_RUN_TASK_COUNT", default_value_t = 1)]
    pub task_count: u32,
    /// The name of this run, the same for all its tasks (Cloud Run Jobs sets it): it names
    /// the part files and, without --seed, the base seed is derived from it.
    #[arg(long, env = "CLOUD_RUN_EXECUTION")]
    pub execution: Option<String>,
    #[command(flatten)]
    pub settings: Settings,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected name=value, got '{s}'"))
}

impl RunArgs {
    fn is_faker(&self) -> bool {
        self.source == BUILTIN_SOURCE
    }

    fn request(&self) -> IngestRequest {
        IngestRequest {
            // A faker run's request is the one it always was, so its job record is unchanged.
            source: (!self.is_faker()).then(|| self.source.clone()),
            resource: self.resource.clone(),
            quantity: match self.quantity {
                None if self.is_faker() => Some(DEFAULT_FAKER_QUANTITY),
                quantity => quantity,
            },
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

/// The base seed every task of the run `execution` derives (CRC32C of its name, from 1 to
/// 2^31 - 1: never 0, which the upstream reads as no seed): the same in each task and in a
/// retried task, different for the next execution.
pub fn seed_of_execution(execution: &str) -> i64 {
    i64::from(crc32c::crc32c(execution.as_bytes()) & 0x7fff_ffff).max(1)
}

/// Runs the ingest (and export); prints each finished job as JSON on stdout. Returns whether
/// everything succeeded.
pub async fn execute(args: RunArgs) -> anyhow::Result<bool> {
    let mut config = args.settings.validate()?;
    let shard = Shard::new(args.task_index, args.task_count)
        .map_err(|e| anyhow::anyhow!("CLOUD_RUN_TASK_INDEX/CLOUD_RUN_TASK_COUNT: {e}"))?;
    // The tasks of one execution leave through one address, so the upstream counts them as
    // one client: each takes its share of the rate.
    config.upstream_rate_shared_by = shard.count;
    // A one-shot run ingests its own job; older interrupted ones are the service's to resume.
    config.resume_at_start = false;
    if !shard.is_whole() && config.upstream_rate_limit > 0 {
        tracing::info!(
            rate_limit = config.upstream_rate_limit,
            tasks = shard.count,
            per_task = f64::from(config.upstream_rate_limit) / f64::from(shard.count),
            "the upstream rate limit is shared by the run's tasks"
        );
    }
    let mut request = args.request();
    // Seeds address Faker's pages; another source's pages need none.
    if request.seed.is_none() && args.is_faker() {
        match &args.execution {
            Some(execution) => request.seed = Some(seed_of_execution(execution)),
            None if !shard.is_whole() => anyhow::bail!(
                "the {} tasks of a run must share one base seed: pass --seed, or set CLOUD_RUN_EXECUTION \
                 (Cloud Run Jobs does) to derive it",
                shard.count
            ),
            None => {}
        }
    }
    let services = Services::start(&config).await?;
    let state = &services.state;
    let mut plan =
        request.plan(config.concurrency, &state.ingest.sources).map_err(|e| anyhow::anyhow!("invalid request: {e}"))?;
    plan.set_shard(shard);
    let table = plan.table().to_owned();

    // A task of an execution is one job, whichever attempt runs it: a retried task (a fresh
    // container) finds the job its earlier attempt left in the destination's durable log, and
    // resumes it, fetching only the pages that did not become durable.
    let key = args
        .execution
        .as_ref()
        .map(|execution| format!("cloudrun:{execution}:task-{}-of-{}", shard.index, shard.count));
    let spawned = ingest::start(&state.ingest, plan, &request, key).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let ingested = match spawned {
        Spawned::New(job) => ingest_to_the_end(&state.jobs, job, &table, shard).await,
        Spawned::Existing(earlier) if earlier.state == JobState::Succeeded => {
            tracing::info!(job = %earlier.id, "an earlier attempt of this task ingested its pages");
            earlier
        }
        Spawned::Existing(earlier) => {
            tracing::info!(job = %earlier.id, state = earlier.state.as_str(), "resuming the job of an earlier attempt of this task");
            let job = ingest::resume(&state.ingest, &earlier.id, config.concurrency, false)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            ingest_to_the_end(&state.jobs, job, &table, shard).await
        }
    };
    print_job(&ingested)?;
    let mut ok = ingested.state == JobState::Succeeded;

    // No table: the resource had no records, or it is followed and another task fetched it.
    let nothing = state.store.table_ddl(&table).await?.is_none();
    if ok && args.export && nothing {
        tracing::info!(table, "nothing to export: this task stored no table");
    } else if ok && args.export {
        let spawned = if shard.is_whole() {
            let mode = if args.mode == "incremental" { ExportMode::Incremental } else { ExportMode::Snapshot };
            // A source's records that fit no widening of its table go with it.
            let quarantine = quarantine_table(&table);
            let mut tables = vec![table];
            if state.store.table_ddl(&quarantine).await?.is_some() {
                tables.push(quarantine);
            }
            let request = ExportRequest { tables: Some(tables), mode };
            export::start(&state.export, request, None).await
        } else {
            let part = Part { run: args.execution.clone(), index: shard.index, count: shard.count };
            export::start_part(&state.export, &table, &ingested.id, part).await
        };
        let job = started(spawned.map_err(|e| anyhow::anyhow!("{e}"))?)?;
        let exported = state.jobs.settled(&job).await;
        print_job(&exported)?;
        ok = exported.state == JobState::Succeeded;
    }
    services.shutdown().await;
    Ok(ok)
}

/// Follows an ingest until it settles (a database recovery interrupts the job and resumes it
/// under its id: that too).
async fn ingest_to_the_end(jobs: &Jobs, job: Arc<Job>, table: &str, shard: Shard) -> JobView {
    tracing::info!(job = %job.id, table, task = shard.index, tasks = shard.count, "ingest started");
    follow(&job).await;
    jobs.settled(&job).await
}

/// Shows an ingest's progress until it finishes: a progress bar when stderr is a terminal,
/// otherwise (Cloud Run, cron, CI) a log line each time another tenth of the pages is done.
async fn follow(job: &Arc<Job>) {
    let finished = job.finished();
    tokio::pin!(finished);
    let mut counted = job.progress.changes();
    let total = job.view().pages_total;
    if std::io::stderr().is_terminal() {
        let style =
            indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} pages · {msg} · {elapsed}")
                .expect("a valid template")
                .progress_chars("=> ");
        let bar = indicatif::ProgressBar::new(total).with_style(style);
        // The spinner and the elapsed time move on their own; the pages as they are counted.
        bar.enable_steady_tick(Duration::from_millis(100));
        loop {
            let view = job.view();
            bar.set_position(view.pages_done);
            bar.set_message(format!("{} rows", view.rows));
            tokio::select! {
                _ = &mut finished => break,
                _ = counted.changed() => {}
            }
        }
        let view = job.view();
        bar.set_position(view.pages_done);
        bar.finish_with_message(format!("{} rows, {:?}", view.rows, view.state));
    } else {
        let mut tenths_logged = 0;
        loop {
            tokio::select! {
                _ = &mut finished => break,
                _ = counted.changed() => {}
            }
            let view = job.view();
            let tenths = if total == 0 { 10 } else { view.pages_done * 10 / total };
            if tenths > tenths_logged && tenths < 10 {
                tenths_logged = tenths;
                tracing::info!(pages_done = view.pages_done, pages_total = total, rows = view.rows, "ingest progress");
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn request(args: &[&str]) -> IngestRequest {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().run.request()
    }

    #[test]
    fn a_faker_run_asks_what_it_always_asked() {
        let plain = request(&[]);
        assert_eq!((plain.source, plain.resource.as_str(), plain.quantity), (None, "users", Some(10_000)));
        let named = request(&["--source", "faker", "--resource", "books", "--quantity", "30"]);
        assert_eq!((named.source, named.resource.as_str(), named.quantity), (None, "books", Some(30)));
    }

    #[test]
    fn a_source_run_names_its_source_and_caps_only_when_asked() {
        let every = request(&["--source", "shop", "--resource", "orders"]);
        assert_eq!((every.source.as_deref(), every.resource.as_str(), every.quantity), (Some("shop"), "orders", None));
        assert_eq!(request(&["--source", "shop", "--resource", "orders", "--quantity", "500"]).quantity, Some(500));
    }
}
