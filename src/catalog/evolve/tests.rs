use duckdb::arrow::array::AsArray;
use duckdb::arrow::datatypes::{Float64Type, Int64Type};

use super::*;
use crate::catalog::infer::infer_schema;
use crate::catalog::{ColumnType, Fake};

fn root() -> JsonPointer {
    JsonPointer::parse("").unwrap()
}

fn first(body: &str) -> Schema {
    infer_schema(body.as_bytes(), &root(), &[]).unwrap()
}

fn spelled(schema: &Schema) -> Vec<String> {
    schema.fields.iter().map(|f| format!("{} {}", f.name, f.ty.duckdb_sql())).collect()
}

const FIRST: &str = r#"[{"id": 1, "priority": 2, "note": null, "customer": {"name": "A"}}]"#;

#[test]
fn a_page_that_does_not_fit_widens_the_schema_and_quarantines_only_what_cannot_fit() {
    let schema = first(FIRST);
    let body = r#"[{"id": 2, "priority": 3, "note": null},
                   {"id": 3, "priority": 2.5, "assignee": "ann", "customer": {"name": "B", "vip": true}},
                   {"id": "n/a", "priority": 1},
                   {"id": 5, "note": 7.25},
                   7]"#;
    let page = evolve_page(&schema, &[], body.as_bytes(), &root(), Contract::Evolve).unwrap();
    assert_eq!(
        spelled(&page.schema),
        [
            "id BIGINT",
            "priority DOUBLE",
            "note DOUBLE",
            r#"customer STRUCT("name" VARCHAR, "vip" BOOLEAN)"#,
            "assignee VARCHAR"
        ]
    );
    assert_eq!((page.records, page.batch.num_rows()), (5, 3));
    let ids: Vec<_> = page.batch.column(0).as_primitive::<Int64Type>().iter().collect();
    assert_eq!(ids, [Some(2), Some(3), Some(5)]);
    let priority: Vec<_> = page.batch.column(1).as_primitive::<Float64Type>().iter().collect();
    assert_eq!(priority, [Some(3.0), Some(2.5), None]);
    let quarantined: Vec<(usize, &str, &str)> =
        page.quarantined.iter().map(|q| (q.index, q.field.as_str(), q.reason.as_str())).collect();
    assert_eq!(
        quarantined,
        [(2, "/id", r#"expected an integer, got the string "n/a""#), (4, "", "the record is not an object")]
    );
    // Kept as the API sent it, spacing and all.
    assert_eq!(page.quarantined[0].record, r#"{"id": "n/a", "priority": 1}"#);
    assert_eq!(
        changes(&schema, &page.schema).iter().map(|c| (c.column.as_str(), c.change.as_str())).collect::<Vec<_>>(),
        [("priority", "widened"), ("note", "typed"), ("customer.vip", "added"), ("assignee", "added")]
    );
}

#[test]
fn the_other_contracts_keep_the_schema() {
    let schema = first(FIRST);
    let body = r#"[{"id": 2, "priority": 3}, {"id": 3, "priority": 2.5, "assignee": "ann"}]"#;
    let frozen = evolve_page(&schema, &[], body.as_bytes(), &root(), Contract::Freeze).unwrap_err();
    assert_eq!(
        frozen,
        EvolveError::Frozen {
            record: 1,
            field: "/priority".into(),
            reason: "expected an integer, got a fractional number".into()
        }
    );
    let discarded = evolve_page(&schema, &[], body.as_bytes(), &root(), Contract::DiscardValue).unwrap();
    assert_eq!((discarded.schema == schema, discarded.batch.num_rows(), discarded.discarded_values), (true, 2, 2));
    let rows = evolve_page(&schema, &[], body.as_bytes(), &root(), Contract::DiscardRow).unwrap();
    assert_eq!((rows.schema == schema, rows.batch.num_rows(), rows.quarantined.len()), (true, 1, 1));
    assert_eq!(rows.quarantined[0].field, "/priority");
}

#[test]
fn declared_columns_never_change() {
    let declared = [Field::new("priority", ColumnType::Integer, Fake::Generic)];
    let schema = infer_schema(FIRST.as_bytes(), &root(), &declared).unwrap();
    let page = evolve_page(&schema, &declared, br#"[{"priority": 2.5}]"#, &root(), Contract::Evolve).unwrap();
    assert_eq!(page.schema, schema);
    assert_eq!(page.quarantined[0].field, "/priority");
}

#[test]
fn an_older_batch_conforms_to_the_widened_table() {
    let schema = first(FIRST);
    let old = crate::catalog::decode::decode_fitting_records_at(
        &schema,
        br#"[{"id": 1, "priority": 2, "customer": {"name": "A"}}]"#,
        &root(),
    )
    .unwrap()
    .batch;
    let body =
        r#"[{"id": 3, "priority": 2.5, "assignee": "ann", "customer": {"name": "B", "vip": true}, "note": [1]}]"#;
    let widened = evolve_page(&schema, &[], body.as_bytes(), &root(), Contract::Evolve).unwrap();
    let conformed = conform(old, &widened.schema, 4).unwrap();
    assert_eq!(conformed.schema().fields(), widened.batch.schema().fields());
    assert_eq!(conformed.schema().metadata()[LINEAGE_AT], "4");
    assert_eq!(conformed.column(1).as_primitive::<Float64Type>().value(0), 2.0);
    assert!(conformed.column(2).is_null(0));
    let customer = conformed.column(3).as_struct();
    assert!(customer.column(1).is_null(0));
    assert_eq!(customer.column(0).as_string::<i32>().value(0), "A");
    // A batch that fits is left as it is.
    let same = conform(widened.batch.clone(), &widened.schema, 5).unwrap();
    assert!(same.schema().metadata().is_empty());
}
