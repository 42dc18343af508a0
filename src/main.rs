//! The duckhaul command line: parses arguments and calls the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use duckhaul::{app, config, fake_api, run, telemetry};

#[derive(Parser)]
#[command(name = "duckhaul", version, about = "Hauls Faker API records into DuckDB and exports Parquet snapshots")]
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
    /// Print the BigQuery JSON schema of a table or view (for `bq load --schema`).
    BigquerySchema {
        /// The table or view.
        table: String,
        /// DuckDB database file (built-in resources need none).
        #[arg(long, env = "DUCKHAUL_DATABASE", default_value = "./data/duckhaul.duckdb")]
        database: std::path::PathBuf,
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
        Some(Command::Openapi | Command::BigquerySchema { .. }) => false,
    };
    let filter = match &cli.command {
        None => cli.serve.settings.log.as_str(),
        Some(Command::Serve(args)) => args.settings.log.as_str(),
        Some(Command::Run(args)) => args.settings.log.as_str(),
        Some(Command::FakeApi { .. } | Command::Openapi) => "info",
        Some(Command::BigquerySchema { .. }) => "warn",
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
