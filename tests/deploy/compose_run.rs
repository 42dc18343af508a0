//! `docker compose up` without Docker: the compose file's own commands (the bucket creation,
//! the Faker server, duckhaul with its environment, the trigger's script) run here as
//! processes, with only the service host names rewritten to loopback addresses, against a real
//! fake-gcs-server. Whatever `docker compose up` would run is thus run for real.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use crate::cli::{self, Service, free_port};
use crate::containers::{arg_after, compose, environment, service, strings};
use crate::gcs::FakeGcs;

/// Compose escapes `$` as `$$`; the shell gets single ones.
fn unescape(s: &str) -> String {
    s.replace("$$", "$")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compose_pipeline_runs_here_with_its_own_commands() {
    let config = compose(&["docker-compose.yml"], &[]).unwrap();
    let gcs = FakeGcs::start().await;
    let rewrite_gcs = |s: &str| s.replace("http://fake-gcs", &gcs.endpoint());

    // create-bucket: the curl image's entrypoint is curl; its arguments, pointed at the emulator.
    let args: Vec<String> =
        strings(&service(&config, "create-bucket")["command"]).iter().map(|a| rewrite_gcs(a)).collect();
    let created = Command::new("curl").args(&args).output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    // faker: `duckhaul fake-api --listen 0.0.0.0:8081`, on a free loopback port instead.
    let faker_command = strings(&service(&config, "faker")["command"]);
    let faker_listen = arg_after(&faker_command, "--listen").unwrap();
    let faker_port = free_port();
    let mut faker = cli::duckhaul()
        .args(faker_command.iter().map(|a| a.replace(&faker_listen, &format!("127.0.0.1:{faker_port}"))))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // duckhaul: its compose environment, hosts rewritten; the image's /data volume is a temp dir.
    let (_tmp, dir) = cli::temp_dir();
    let duckhaul_env = environment(service(&config, "duckhaul"));
    let faker_host = format!("faker:{}", faker_listen.rsplit(':').next().unwrap());
    let env: BTreeMap<String, String> = duckhaul_env
        .iter()
        .map(|(k, v)| (k.clone(), rewrite_gcs(v).replace(&faker_host, &format!("127.0.0.1:{faker_port}"))))
        .collect();
    let env_os: Vec<(&str, &std::ffi::OsStr)> =
        env.iter().map(|(k, v)| (k.as_str(), std::ffi::OsStr::new(v.as_str()))).collect();
    // Service uses blocking HTTP: off the async workers.
    let duckhaul = tokio::task::block_in_place(|| Service::start(&dir, &env_os));

    // trigger: its script, calling this duckhaul.
    let trigger = service(&config, "trigger");
    let script = unescape(&strings(&trigger["command"]).join("\n")).replace("http://duckhaul:8080", &duckhaul.base);
    let output = tokio::task::block_in_place(|| {
        Command::new("sh").arg("-c").arg(&script).envs(environment(trigger)).output().unwrap()
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the trigger failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let quantity: u64 = environment(trigger)["QUANTITY"].parse().unwrap();

    // The export is in the emulator's bucket, with every row.
    let bucket_and_prefix = env["DUCKHAUL_DESTINATION"].strip_prefix("gs://").unwrap().to_string();
    let (bucket, prefix) = bucket_and_prefix.split_once('/').unwrap();
    let objects = gcs.list(bucket, &format!("{prefix}/users/")).await;
    let parquet: Vec<&String> = objects.iter().filter(|o| o.ends_with(".parquet")).collect();
    assert_eq!(parquet.len(), 1, "{objects:?}");
    let bytes = gcs.object(bucket, parquet[0]).await.unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let rows: i64 = conn
        .query_row(&format!("SELECT count(*) FROM read_parquet('{}')", file.path().display()), [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows as u64, quantity);
    assert!(stdout.contains(&format!("\"rows\":{quantity}")), "{stdout}");

    tokio::task::block_in_place(|| duckhaul.stop());
    let _ = faker.kill();
    let _ = faker.wait();
}
