//! `GcsSink` against a real fake-gcs-server: what it uploads is what GCS holds, byte for byte,
//! and it never replaces an existing object.

#[path = "support/gcs.rs"]
mod fake_gcs;

use bytes::Bytes;
use duckhaul::destination::gcs::{GcsSink, ObjectWritten};
use fake_gcs::FakeGcs;
use std::io::Write;

const BUCKET: &str = "snapshots";
const PARQUET: &str = "application/vnd.apache.parquet";

/// Deterministic, incompressible-looking bytes (xorshift), so a misplaced chunk shows up.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn temp_file(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("creating a temp file");
    file.write_all(contents).expect("writing a temp file");
    file.flush().expect("flushing a temp file");
    file
}

async fn emulator_with_bucket() -> FakeGcs {
    let gcs = FakeGcs::start().await;
    gcs.create_bucket(BUCKET).await;
    gcs
}

#[tokio::test]
async fn a_large_file_is_uploaded_resumably_and_stored_byte_for_byte() {
    let gcs = emulator_with_bucket().await;
    let sink = GcsSink::connect(&format!("gs://{BUCKET}/exports/"), Some(&gcs.endpoint())).await.unwrap();
    // Above the client's 16 MiB resumable threshold, and not a multiple of any chunk size.
    let contents = data(20 * 1024 * 1024 + 12_345, 7);
    let crc = crc32c::crc32c(&contents);
    let file = temp_file(&contents);

    let key = "users/dt=2026-01-02/0191.parquet";
    let written = sink.put_file(key, file.path(), crc, PARQUET).await.unwrap();

    assert_eq!(
        written,
        ObjectWritten { uri: format!("gs://{BUCKET}/exports/{key}"), bytes: contents.len() as u64, crc32c: crc }
    );
    assert_eq!(written.uri, sink.uri(key));
    let stored = gcs.object(BUCKET, &format!("exports/{key}")).await.expect("object exists");
    assert_eq!(stored.len(), contents.len());
    assert_eq!(crc32c::crc32c(&stored), crc);
    assert!(stored == contents, "stored bytes differ from the file");
    assert_eq!(gcs.list(BUCKET, "exports/").await, [format!("exports/{key}")]);
    // The content type cannot be checked here: the emulator ignores the metadata's
    // `contentType` and keeps the upload request's own Content-Type instead (real GCS does not).
    let metadata = gcs.metadata(BUCKET, &format!("exports/{key}")).await.unwrap();
    assert_eq!(metadata["size"], contents.len().to_string());

    // The emulator ignores preconditions on resumable uploads (real GCS enforces them), so
    // check that the sink asked for create-only on the resumable session it opened.
    let starts: Vec<_> =
        gcs.requests().into_iter().filter(|r| r.starts_with("POST /upload/storage/v1/b/snapshots/o?")).collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert!(starts[0].contains("uploadType=resumable"), "{starts:?}");
    assert!(starts[0].contains("ifGenerationMatch=0"), "{starts:?}");
}

#[tokio::test]
async fn small_files_and_manifests_are_stored_byte_for_byte() {
    let gcs = emulator_with_bucket().await;
    // The bare `host:port` form, as STORAGE_EMULATOR_HOST gives it.
    let sink = GcsSink::connect(&format!("gs://{BUCKET}/a/b"), Some(&gcs.host_port())).await.unwrap();
    let contents = data(3_000, 11);
    let crc = crc32c::crc32c(&contents);
    let file = temp_file(&contents);
    let manifest = Bytes::from_static(br#"{"table":"users","rows":1000}"#);

    let part = sink.put_file("users/part-0.parquet", file.path(), crc, PARQUET).await.unwrap();
    let manifest_written = sink.put_bytes("users/manifest.json", manifest.clone(), "application/json").await.unwrap();

    assert_eq!(part.uri, format!("gs://{BUCKET}/a/b/users/part-0.parquet"));
    assert_eq!((part.bytes, part.crc32c), (3_000, crc));
    assert_eq!(
        manifest_written,
        ObjectWritten {
            uri: format!("gs://{BUCKET}/a/b/users/manifest.json"),
            bytes: manifest.len() as u64,
            crc32c: crc32c::crc32c(&manifest),
        }
    );
    let stored = gcs.object(BUCKET, "a/b/users/part-0.parquet").await.expect("part exists");
    assert_eq!(crc32c::crc32c(&stored), crc);
    assert!(stored == contents, "stored bytes differ from the file");
    assert_eq!(gcs.object(BUCKET, "a/b/users/manifest.json").await.as_deref(), Some(&manifest[..]));
    assert_eq!(gcs.list(BUCKET, "a/").await, ["a/b/users/manifest.json", "a/b/users/part-0.parquet"]);
    // Read back (a retried task looks for its part's manifest), and a missing one is None.
    let read = sink.get_bytes("users/manifest.json").await.unwrap();
    assert_eq!(read, Some((format!("gs://{BUCKET}/a/b/users/manifest.json"), manifest)));
    assert_eq!(sink.get_bytes("users/other.json").await.unwrap(), None);
}

#[tokio::test]
async fn an_existing_object_is_never_overwritten() {
    let gcs = emulator_with_bucket().await;
    let sink = GcsSink::connect(&format!("gs://{BUCKET}/x"), Some(&gcs.endpoint())).await.unwrap();
    let first = data(4_096, 1);
    let file = temp_file(&first);
    sink.put_file("t/part.parquet", file.path(), crc32c::crc32c(&first), PARQUET).await.unwrap();
    sink.put_bytes("t/manifest.json", Bytes::from_static(b"{\"v\":1}"), "application/json").await.unwrap();

    let second = data(4_096, 2);
    let other = temp_file(&second);
    let file_err = sink
        .put_file("t/part.parquet", other.path(), crc32c::crc32c(&second), PARQUET)
        .await
        .expect_err("a second put_file of the same key must fail");
    let bytes_err = sink
        .put_bytes("t/manifest.json", Bytes::from_static(b"{\"v\":2}"), "application/json")
        .await
        .expect_err("a second put_bytes of the same key must fail");

    for (err, key) in [(file_err, "t/part.parquet"), (bytes_err, "t/manifest.json")] {
        let message = format!("{err:#}");
        assert!(message.contains("already exists"), "{message}");
        assert!(message.contains(&format!("gs://{BUCKET}/x/{key}")), "{message}");
    }
    assert_eq!(gcs.object(BUCKET, "x/t/part.parquet").await, Some(first));
    assert_eq!(gcs.object(BUCKET, "x/t/manifest.json").await.as_deref(), Some(&b"{\"v\":1}"[..]));
}

#[tokio::test]
async fn a_checksum_that_does_not_match_the_file_fails_the_put() {
    let gcs = emulator_with_bucket().await;
    let sink = GcsSink::connect(&format!("gs://{BUCKET}"), Some(&gcs.endpoint())).await.unwrap();
    let contents = data(10_000, 3);
    let file = temp_file(&contents);

    let err = sink
        .put_file("t/part.parquet", file.path(), crc32c::crc32c(&contents) ^ 1, PARQUET)
        .await
        .expect_err("a wrong CRC32C must fail the upload");

    let message = format!("{err:#}");
    assert!(message.contains("checksum"), "{message}");
    assert!(message.contains(&format!("gs://{BUCKET}/t/part.parquet")), "{message}");
}

#[tokio::test]
async fn a_missing_file_fails_before_anything_is_sent() {
    let gcs = emulator_with_bucket().await;
    let sink = GcsSink::connect(&format!("gs://{BUCKET}/p"), Some(&gcs.endpoint())).await.unwrap();

    let err = sink
        .put_file("t/part.parquet", std::path::Path::new("/nonexistent/part.parquet"), 0, PARQUET)
        .await
        .expect_err("a missing file cannot be uploaded");

    assert!(format!("{err:#}").contains("/nonexistent/part.parquet"), "{err:#}");
    assert_eq!(gcs.list(BUCKET, "").await, Vec::<String>::new());
}

#[tokio::test]
async fn destinations_name_a_bucket_and_an_optional_prefix() {
    // Connecting sends nothing, so no emulator is needed to check naming.
    let endpoint = Some("127.0.0.1:9");
    let sink = GcsSink::connect("gs://snap/exports/daily/", endpoint).await.unwrap();
    assert_eq!(sink.describe(), "gs://snap/exports/daily");
    assert_eq!(sink.uri("users/x.parquet"), "gs://snap/exports/daily/users/x.parquet");

    let root = GcsSink::connect("gs://snap", endpoint).await.unwrap();
    assert_eq!(root.describe(), "gs://snap");
    assert_eq!(root.uri("users/x.parquet"), "gs://snap/users/x.parquet");

    for bad in ["snap/exports", "s3://snap", "gs://", "gs://Snap", "gs://a", "gs://snap/a//b"] {
        let err = GcsSink::connect(bad, endpoint).await.err();
        assert!(err.is_some(), "{bad} should be rejected");
    }
    assert!(GcsSink::connect("gs://snap", Some("ftp://host")).await.is_err());
}

#[tokio::test]
async fn a_listing_names_every_object_under_a_prefix_across_pages_and_nothing_else() {
    let gcs = emulator_with_bucket().await;
    let sink = GcsSink::connect(&format!("gs://{BUCKET}/exports"), Some(&gcs.endpoint())).await.unwrap();
    // More than one page of names (at most 1,000 a page), beside objects it must not list.
    let keys: Vec<String> =
        (0..1005).map(|i| format!("_duckhaul/tables/users/j{}/groups/g{i:04}.json", i % 7)).collect();
    for chunk in keys.chunks(64) {
        futures::future::join_all(
            chunk.iter().map(|k| sink.put_bytes(k, Bytes::from_static(b"{}"), "application/json")),
        )
        .await
        .into_iter()
        .for_each(|written| {
            written.unwrap();
        });
    }
    sink.put_bytes("users/dt=2026-12-03/e1.parquet", Bytes::from_static(b"PAR1"), PARQUET).await.unwrap();
    sink.put_bytes("_duckhaul/tables/orders/j9/job.json", Bytes::from_static(b"{}"), "application/json").await.unwrap();

    let mut listed = sink.list("_duckhaul/tables/users/").await.unwrap();
    listed.sort();
    assert_eq!(listed.len(), 1005);
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(listed, expected, "keys relative to the destination's prefix");
    assert_eq!(sink.list("_duckhaul/tables/nothing/").await.unwrap(), Vec::<String>::new());
}
