//! The duckhaul command line: parses arguments and calls the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use duckhaul::{app, config, fake_api, run, telemetry};

#[derive(Parser)]
#[command(
    name = "duckhaul",
    version,
    about = "Hauls records from REST APIs (the Faker API built in) into DuckDB and exports Parquet snapshots"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, duckhaul serves.
    #[command(flatten)]
    serve: config::ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve(config::ServeArgs),
    /// Ingest once (and export with --export), then exit: for Cloud Run Jobs and cron.
    Run(run::RunArgs),
    /// Serve the bundled Faker-compatible API.
    FakeApi {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        /// Log lines as text or as Cloud Logging JSON; auto: JSON on Cloud Run.
        #[arg(long, env = "DUCKHAUL_LOG_FORMAT", value_enum, default_value_t)]
        log_format: telemetry::LogFormat,
        #[command(flatten)]
        options: fake_api::FakeApiOptions,
    },
    /// Print the OpenAPI description as JSON.
    Openapi,
    /// Sources described in files (`DUCKHAUL_SOURCES_DIR`).
    Sources {
        #[command(subcommand)]
        command: SourcesCommand,
    },
    /// Print the BigQuery JSON schema of a table or view (for `bq load --schema`).
    BigquerySchema {
        /// The table or view.
        table: String,
        /// DuckDB database file (built-in resources need none).
        #[arg(long, env = "DUCKHAUL_DATABASE", default_value = "./data/duckhaul.duckdb")]
        database: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Check a source file: validate it, fetch each resource's first pages (nothing is stored),
    /// and print the table it would make, as DuckDB DDL and as a BigQuery schema.
    Check {
        /// The source file (TOML); its stem is the source's name.
        file: std::path::PathBuf,
        /// Only this resource (default: every resource of the file).
        #[arg(long)]
        resource: Option<String>,
        /// Pages to read of each resource, following its pagination: the later ones show what
        /// they would change in the table (columns added or widened) and quarantine.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
        pages: u32,
    },
}

/// Cloud Run sets K_SERVICE in services and CLOUD_RUN_JOB in jobs.
fn json_logs(format: telemetry::LogFormat) -> bool {
    let on_cloud_run =
        ["K_SERVICE", "CLOUD_RUN_JOB"].iter().any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
    format.is_json(on_cloud_run)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logging first, so even a bad setting is reported in the format the platform reads.
    let json = match &cli.command {
        None => json_logs(cli.serve.settings.log_format),
        Some(Command::Serve(args)) => json_logs(args.settings.log_format),
        Some(Command::Run(args)) => json_logs(args.settings.log_format),
        Some(Command::FakeApi { log_format, .. }) => json_logs(*log_format),
        Some(Command::Openapi | Command::BigquerySchema { .. } | Command::Sources { .. }) => false,
    };
    let filter = match &cli.command {
        None => cli.serve.settings.log.as_str(),
        Some(Command::Serve(args)) => args.settings.log.as_str(),
        Some(Command::Run(args)) => args.settings.log.as_str(),
        Some(Command::FakeApi { .. } | Command::Openapi) => "info",
        Some(Command::BigquerySchema { .. } | Command::Sources { .. }) => "warn",
    };
    telemetry::init(filter, json);
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Run(args)) => match run::execute(args).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Some(Command::FakeApi { listen, options, .. }) => fake(listen, options).await,
        Some(Command::Openapi) => {
            println!("{}", duckhaul::api::openapi().to_pretty_json().expect("the spec serialises"));
            Ok(())
        }
        Some(Command::BigquerySchema { table, database }) => {
            duckhaul::export::bigquery::table_schema(&database, &table).map(|fields| {
                println!("{}", serde_json::to_string_pretty(&fields).expect("a schema serialises"));
            })
        }
        Some(Command::Sources { command: SourcesCommand::Check { file, resource, pages } }) => {
            check_source(&file, resource.as_deref(), pages as usize).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                tracing::error!("duckhaul: {e:#}");
            } else {
                eprintln!("duckhaul: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: config::ServeArgs) -> anyhow::Result<()> {
    let config = args.validate()?;
    let application = app::Application::build(&config, args.listen_addr()).await?;
    tracing::info!(addr = %application.local_addr(), "duckhaul listening");
    application.run_until_stopped(app::shutdown_signal()).await
}

/// `duckhaul sources check`: what each resource's first page makes, printed for a person.
async fn check_source(file: &std::path::Path, only: Option<&str>, pages: usize) -> anyhow::Result<()> {
    use duckhaul::catalog::sources;
    let source = sources::load_file(file)?;
    let resources: Vec<_> = match only {
        Some(name) => vec![source.resource(name).ok_or_else(|| {
            let names: Vec<&str> = source.resources.iter().map(|r| r.name.as_str()).collect();
            anyhow::anyhow!("{}: no resource {name}; it has {}", file.display(), names.join(", "))
        })?],
        None => source.resources.iter().collect(),
    };
    let auth = source.auth.as_ref().map(|a| format!(", auth {} ({})", a.kind(), a.variables().join(", ")));
    println!("source {} ({}): {}{}", source.name, file.display(), source.base_url, auth.unwrap_or_default());
    for resource in resources {
        let probe = duckhaul::source::probe::probe(&source, resource, pages)
            .await
            .with_context(|| format!("{}: resources.{}", file.display(), resource.name))?;
        println!(
            "\nresource {} -> table {} ({} pagination)",
            resource.name,
            resource.table,
            resource.pagination.kind()
        );
        println!("  GET {} -> {}: {} records", probe.url, probe.status, probe.records);
        if let Some(total) = probe.total {
            println!("  total: {total}");
        }
        match &probe.next {
            Some(next) => println!("  next: {next}"),
            None => println!("  next: none (the first page is the last)"),
        }
        for (i, page) in probe.later.iter().enumerate() {
            println!("  page {}: GET {}: {} records", i + 2, page.url, page.records);
            for change in &page.changes {
                let from = change.from.as_ref().map(|from| format!("{from} -> ")).unwrap_or_default();
                println!("    {} {}: {from}{}", change.change, change.column, change.to);
            }
            for q in &page.quarantined {
                let field = if q.field.is_empty() { String::new() } else { format!(", field {}", q.field) };
                println!("    quarantined: record {}{field}: {}", q.index, q.reason);
            }
        }
        println!("\n{};", duckhaul::store::schema::table_ddl(&resource.table, &probe.schema));
        let bigquery = duckhaul::export::bigquery::from_catalog(&probe.schema);
        println!("\nBigQuery schema of {}:\n{}", resource.table, serde_json::to_string_pretty(&bigquery)?);
    }
    Ok(())
}

async fn fake(listen: std::net::SocketAddr, options: fake_api::FakeApiOptions) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "Faker-compatible API listening");
    let stop = tokio_util::sync::CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        signal.cancel();
    });
    fake_api::serve(listener, options, stop).await?;
    Ok(())
}
