//! `{table}__quarantine`: the records of a source that fit no widening of its table, each whole,
//! as its raw JSON, with where and why it did not fit. Its lineage columns are every table's, so
//! it is counted, exported and resumed like any table, and committed with the page it came in.

use std::sync::Arc;

use duckdb::arrow::array::{ArrayRef, Int64Array, StringArray};
use duckdb::arrow::record_batch::RecordBatch;

use super::QuarantinedRecord;
use crate::catalog::decode::arrow_fields;
use crate::catalog::{ColumnType, Fake, Field, Schema};

/// The quarantine table of `table`.
pub fn quarantine_table(table: &str) -> String {
    format!("{table}__quarantine")
}

/// Its record columns: the record's JSON, its index in its page, the field (a JSON Pointer
/// within the record, empty for the record itself) and the reason.
pub fn quarantine_schema() -> Schema {
    let field = |name, ty| Field::new(name, ty, Fake::Generic);
    Schema {
        fields: vec![
            field("record", ColumnType::Text),
            field("record_index", ColumnType::Integer),
            field("field", ColumnType::Text),
            field("reason", ColumnType::Text),
        ],
    }
}

/// `records` as rows of the quarantine table.
pub fn quarantine_batch(records: &[QuarantinedRecord]) -> RecordBatch {
    let schema = Arc::new(duckdb::arrow::datatypes::Schema::new(arrow_fields(&quarantine_schema().fields)));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.record.as_str()))),
        Arc::new(Int64Array::from_iter_values(records.iter().map(|r| r.index as i64))),
        Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.field.as_str()))),
        Arc::new(StringArray::from_iter_values(records.iter().map(|r| r.reason.as_str()))),
    ];
    RecordBatch::try_new(schema, columns).expect("the quarantine's columns are built to its schema")
}
