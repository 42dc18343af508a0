//! The committed spec (`openapi/openapi.json`) is exactly what the code generates, and it is
//! complete: every operation is tagged, summarised, and answers every status its layers can.

use serde_json::Value;

const REGENERATE: &str = "cargo run --release -- openapi > openapi/openapi.json";

fn generated() -> String {
    // `duckhaul openapi` prints this with println!, hence the newline.
    format!("{}\n", duckhaul::api::openapi().to_pretty_json().unwrap())
}

#[test]
fn the_committed_spec_is_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = generated();
    if committed != generated {
        let line = committed.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or_else(
            || {
                format!(
                    "the files differ in length ({} vs {} lines)",
                    committed.lines().count(),
                    generated.lines().count()
                )
            },
            |i| format!("first difference at line {}", i + 1),
        );
        panic!(
            "openapi/openapi.json is not what the code generates ({line}); regenerate it with\n\n    {REGENERATE}\n"
        );
    }
}

#[test]
fn every_operation_is_documented_with_its_errors() {
    let spec: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(spec["security"], serde_json::json!([{"bearer": []}]));
    let paths = spec["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations.push(format!("{} {path}", method.to_uppercase()));
            let name = format!("{method} {path}");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tag");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no summary");
            assert!(op["operationId"].is_string(), "{name}: no operationId");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{name}: no success response");
            let mut expected = vec!["500"];
            if path != "/healthz" {
                expected.extend(["401", "503"]);
            }
            if op.get("requestBody").is_some() {
                expected.extend(["413", "415", "422"]);
            }
            if ["/ingest", "/export", "/jobs/{id}/resume"].contains(&path.as_str()) {
                expected.push("429");
            }
            for status in expected {
                assert!(responses.contains_key(status), "{name}: no {status} response");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = &response["content"]["application/problem+json"];
                    assert_eq!(content["schema"]["$ref"], "#/components/schemas/Problem", "{name} {status}");
                }
            }
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "GET /",
            "GET /docs",
            "GET /docs/swagger-ui-bundle.js",
            "GET /docs/swagger-ui.css",
            "GET /healthz",
            "GET /jobs",
            "GET /jobs/{id}",
            "GET /metrics",
            "GET /openapi.json",
            "GET /sources",
            "GET /status",
            "POST /export",
            "POST /ingest",
            "POST /jobs/{id}/cancel",
            "POST /jobs/{id}/resume",
        ]
    );
    let ingest = &paths["/ingest"]["post"];
    assert_eq!(ingest["responses"]["401"]["headers"]["WWW-Authenticate"]["schema"]["type"], "string");
    assert_eq!(ingest["responses"]["429"]["headers"]["Retry-After"]["schema"]["type"], "integer");
    assert_eq!(ingest["responses"]["202"]["links"]["GetJob"]["operationId"], "get_job");
    assert!(spec["components"]["schemas"]["JobView"]["example"].is_object());
}
