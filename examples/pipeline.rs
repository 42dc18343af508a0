//! Times the ingest pipeline's own stages without HTTP: decoding pages into Arrow, and the
//! writer appending and committing them to a DuckDB file. A profiling aid, not a test:
//! `cargo run --release --example pipeline -- [resource] [pages]`.

use std::sync::Arc;
use std::time::Instant;

use duckhaul::catalog::Resource;
use duckhaul::catalog::decode::decode_page;
use duckhaul::store::schema::table_ddl;
use duckhaul::store::{PageWrite, Store, StoreSettings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let resource = Resource::from_name(args.get(1).map(String::as_str).unwrap_or("users")).expect("a resource");
    let pages: u32 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(100);
    let schema = resource.schema().expect("a built-in resource");

    let started = Instant::now();
    let bodies: Vec<Vec<u8>> =
        (0..pages).map(|i| duckhaul::fake_api::render_page(resource, schema, 1000, i as u64, "en_US", &[])).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!("render  {:>7.3} s  ({} pages, {:.1} MB)", started.elapsed().as_secs_f64(), pages, bytes as f64 / 1e6);

    let started = Instant::now();
    let batches: Vec<_> = bodies.iter().map(|b| decode_page(schema, b).unwrap().batch).collect();
    println!("decode  {:>7.3} s", started.elapsed().as_secs_f64());
    if std::env::var_os("RAW").is_some() {
        return raw_append(schema, &batches);
    }

    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.duckdb"), &StoreSettings::default())?;
    let table = resource.name();
    store.writer()?.ensure_table(table, table, &table_ddl(table, schema), None).await?;
    let started = Instant::now();
    let job: Arc<str> = Arc::from("bench");
    let mut acks = Vec::new();
    for (i, batch) in batches.into_iter().enumerate() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let on_commit = Box::new(move |r| {
            let _ = tx.send(r);
        });
        store
            .writer()?
            .write(PageWrite {
                job_id: job.clone(),
                table: Arc::from(table),
                page: i as u32,
                batch,
                next: None,
                side: Vec::new(),
                on_commit,
            })
            .await?;
        acks.push(rx);
    }
    for rx in acks {
        rx.await?.map_err(anyhow::Error::msg)?;
    }
    println!("write   {:>7.3} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    store.writer()?.checkpoint().await?;
    println!("checkpoint {:>4.3} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Raw appender timings, to see where the writer's time goes.
fn raw_append(
    schema: &duckhaul::catalog::Schema,
    batches: &[duckdb::arrow::record_batch::RecordBatch],
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let conn = duckdb::Connection::open(dir.path().join("raw.duckdb"))?;
    conn.execute_batch("SET checkpoint_threshold = '1GB'")?;
    let ddl = table_ddl("t", schema);
    let data_only = ddl.split("_job_id").next().unwrap().trim_end().trim_end_matches(',').to_string() + ")";
    conn.execute_batch(&data_only)?;
    let started = Instant::now();
    conn.execute_batch("BEGIN")?;
    {
        let mut app = conn.appender("t")?;
        for b in batches {
            app.append_record_batch(b.clone())?;
        }
        app.flush()?;
    }
    let appended = started.elapsed().as_secs_f64();
    conn.execute_batch("COMMIT")?;
    println!("raw arrow append {appended:.3} s, +commit {:.3} s", started.elapsed().as_secs_f64());
    conn.execute_batch("CREATE TABLE t2 AS SELECT * FROM t WITH NO DATA")?;
    let started = Instant::now();
    conn.execute_batch("BEGIN; INSERT INTO t2 SELECT * FROM t; COMMIT")?;
    println!("insert-select    {:.3} s", started.elapsed().as_secs_f64());
    Ok(())
}
