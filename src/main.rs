//! The duckhaul command line: parses arguments and calls the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use duckhaul::{app, config, fake_api, oneshot, telemetry};

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
    Run(oneshot::RunArgs),
    /// Serve the bundled Faker-compatible API.
    FakeApi {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        options: fake_api::FakeApiOptions,
    },
    /// Print the OpenAPI description as JSON.
    Openapi,
}

fn json_logs() -> bool {
    std::env::var("DUCKHAUL_LOG_FORMAT").is_ok_and(|v| v == "json")
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Run(args)) => {
            telemetry::init(&args.settings.log, json_logs());
            match oneshot::run(args).await {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::FAILURE,
                Err(e) => Err(e),
            }
        }
        Some(Command::FakeApi { listen, options }) => fake(listen, options).await,
        Some(Command::Openapi) => {
            println!("{}", duckhaul::api::openapi().to_pretty_json().expect("the spec serialises"));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("duckhaul: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: config::ServeArgs) -> anyhow::Result<()> {
    telemetry::init(&args.settings.log, json_logs());
    let config = args.validate()?;
    let application = app::Application::build(&config, args.listen_addr()).await?;
    tracing::info!(addr = %application.local_addr(), "duckhaul listening");
    application.run_until_stopped(app::shutdown_signal()).await
}

async fn fake(listen: std::net::SocketAddr, options: fake_api::FakeApiOptions) -> anyhow::Result<()> {
    telemetry::init("info", json_logs());
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
