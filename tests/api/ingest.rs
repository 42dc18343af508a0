use serde_json::json;

use crate::helpers::{spawn_app, users};

#[tokio::test]
async fn ingest_5000_users_writes_exactly_5000_typed_rows() {
    let app = spawn_app().await;
    let job = app.ingest(users(5000, 42)).await;

    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["kind"], "ingest");
    assert_eq!(job["rows"], 5000);
    assert_eq!(job["pages_done"], 5);
    assert_eq!(job["pages_total"], 5);
    assert_eq!(job["base_seed"], 42);
    assert_eq!(app.count("users").await, 5000);

    let types = app
        .query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position")
        .await;
    let types: Vec<(String, String)> =
        types.into_iter().map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into())).collect();
    let expect = [
        ("id", "BIGINT"),
        ("uuid", "VARCHAR"),
        ("firstname", "VARCHAR"),
        ("email", "VARCHAR"),
        ("_job_id", "VARCHAR"),
        ("_page", "INTEGER"),
        ("_ingested_at", "TIMESTAMP WITH TIME ZONE"),
        ("_commit", "BIGINT"),
    ];
    for (name, ty) in expect {
        let found = types.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no column {name}: {types:?}"));
        assert_eq!(found.1, ty, "{name}");
    }
    // Every page is there once, with its 1000 rows, under this job.
    let pages = app
        .query(&format!(
            "SELECT _page, count(*) FROM users WHERE _job_id = '{}' GROUP BY _page ORDER BY _page",
            job["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(pages, (0..5).map(|p| vec![json!(p), json!(1000)]).collect::<Vec<_>>());
    // No empty values where the upstream sends data.
    let nulls = app.query("SELECT count(*) FROM users WHERE email IS NULL OR uuid IS NULL OR id IS NULL").await;
    assert_eq!(nulls[0][0], 0);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows() {
    let app = spawn_app().await;
    let a = app.ingest(json!({"resource": "persons", "quantity": 1500, "seed": 7, "page_size": 500})).await;
    let b = app.ingest(json!({"resource": "persons", "quantity": 1500, "seed": 7, "page_size": 500})).await;
    let c = app.ingest(json!({"resource": "persons", "quantity": 1500, "seed": 8, "page_size": 500})).await;
    let (a, b, c) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap(), c["id"].as_str().unwrap());
    let data = "id, firstname, lastname, email, phone, birthday, gender, address, website, image";
    let diff = |x: &str, y: &str| {
        format!(
            "SELECT count(*) FROM (SELECT _page, {data} FROM persons WHERE _job_id = '{x}' EXCEPT ALL SELECT _page, {data} FROM persons WHERE _job_id = '{y}')"
        )
    };
    assert_eq!(app.query(&diff(a, b)).await[0][0], 0, "same seed, same rows");
    assert_eq!(app.query(&diff(b, a)).await[0][0], 0, "same seed, same rows");
    assert_eq!(app.query(&diff(a, c)).await[0][0], 1500, "another seed, other rows");
    assert_eq!(app.count("persons").await, 4500);
}

#[tokio::test]
async fn nested_resources_land_as_structs_and_lists() {
    let app = spawn_app().await;
    for resource in ["persons", "products", "companies"] {
        let job = app.ingest(json!({"resource": resource, "quantity": 1200, "seed": 1})).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(app.count(resource).await, 1200);
    }
    let row =
        app.query("SELECT address.city IS NOT NULL, typeof(address), typeof(birthday) FROM persons LIMIT 1").await;
    assert_eq!(row[0][0], true);
    assert!(row[0][1].as_str().unwrap().starts_with("STRUCT(id BIGINT, street VARCHAR"), "{row:?}");
    assert_eq!(row[0][2], "DATE");
    let row = app
        .query("SELECT min(len(addresses)), max(len(addresses)), typeof(contact.address.latitude) FROM companies GROUP BY ALL")
        .await;
    assert!(row[0][0].as_i64().unwrap() >= 1 && row[0][1].as_i64().unwrap() <= 5, "{row:?}");
    assert_eq!(row[0][2], "DOUBLE");
    let row = app.query("SELECT len(images), typeof(categories), typeof(price), bool_and(price >= net_price) FROM products GROUP BY ALL").await;
    assert_eq!(row[0][0], 3);
    assert_eq!(row[0][1], "BIGINT[]");
    assert_eq!(row[0][2], "DOUBLE");
    assert_eq!(row[0][3], true);
}

#[tokio::test]
async fn custom_records_land_in_the_named_typed_table() {
    let app = spawn_app().await;
    let body = json!({"resource": "custom", "quantity": 250, "seed": 3, "table": "contacts",
        "fields": {"who": "name", "mail": "email", "born": "date", "score": "number", "ok": "boolean", "lat": "latitude"}});
    let job = app.ingest(body.clone()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["table"], "contacts");
    let row = app.query("SELECT count(*), typeof(born), typeof(score), typeof(ok), typeof(lat), count(mail) FROM contacts GROUP BY ALL").await;
    assert_eq!(row[0], vec![json!(250), json!("DATE"), json!("BIGINT"), json!("BOOLEAN"), json!("DOUBLE"), json!(250)]);

    // The same fields again append; other fields for the same table are a conflict.
    app.ingest(body).await;
    assert_eq!(app.count("contacts").await, 500);
    let response = app
        .post("/ingest", &json!({"resource": "custom", "quantity": 5, "table": "contacts", "fields": {"x": "word"}}))
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(app.count("contacts").await, 500);
}

#[tokio::test]
async fn an_ingest_answers_202_with_location_and_finishes_in_the_background() {
    let app = spawn_app().await;
    let response = app.post("/ingest", &users(3000, 5)).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: serde_json::Value = response.json().await.unwrap();
    assert_eq!(location, format!("/jobs/{}", job["id"].as_str().unwrap()));
    assert_eq!(job["links"]["self"], location.as_str());
    assert!(job["state"] == "queued" || job["state"] == "running", "{job}");

    let mut finished = None;
    for _ in 0..600 {
        let job: serde_json::Value = app.get(&location).await.json().await.unwrap();
        if job["state"] == "succeeded" {
            finished = Some(job);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let job = finished.expect("the job finishes");
    assert_eq!(job["rows"], 3000);
    assert_eq!(job["request"]["seed"], 5);
    assert_eq!(job["request"]["page_size"], 1000);
    assert!(job["finished_at"].is_string());
}

#[tokio::test]
async fn an_unseeded_ingest_draws_and_records_a_base_seed() {
    let app = spawn_app().await;
    let job = app.ingest(json!({"resource": "places", "quantity": 10})).await;
    let seed = job["base_seed"].as_i64().expect("a drawn seed is recorded");
    assert_eq!(job["request"]["seed"], seed);
    assert_eq!(app.count("places").await, 10);
}
