//! Tables that follow their API as it changes: what a source's page does to its table when it
//! does not fit the schema the table has, under the resource's contract.
//!
//! A page that fits is decoded in one pass (`decode::decode_fitting_records_at`) and never comes
//! here. One that does not (a new field, a new member of an object, a fraction in an integer
//! column, a first value in a column that has held only nulls, a value of the wrong kind) is
//! taken record by record: each record widens the schema as far as it needs (`infer::widen`),
//! then is decoded with it; a record that still does not fit is quarantined whole, as its raw
//! JSON, with the field and the reason. So a bad record costs one row, never its page, and no
//! value is dropped without a word.
//!
//! Contracts: `evolve` (the default) widens; `freeze` refuses any change, naming the record and
//! the field; `discard_value` keeps the schema and loads the record without the values that do
//! not fit, counting them; `discard_row` keeps the schema and quarantines the record.

mod changes;
mod conform;
mod quarantine;

use duckdb::arrow::record_batch::RecordBatch;
use serde::de::{DeserializeSeed, SeqAccess};
use serde_json::value::RawValue;

use super::decode::{DecodeError, decode_fitting_records_at, record_misfit};
use super::infer::widen;
use super::pointer::{JsonPointer, PointerWalk, RecordsReader};
use super::{ColumnType, Fake, Field, Schema};
pub use changes::{SchemaChange, changes};
pub use conform::{LINEAGE_AT, conform};
pub use quarantine::{quarantine_batch, quarantine_schema, quarantine_table};

/// What a resource's table does with records that do not fit it (`contract` in a source file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contract {
    #[default]
    Evolve,
    Freeze,
    DiscardValue,
    DiscardRow,
}

impl Contract {
    /// `schema` as a table under this contract holds it: only an evolving table types a column
    /// that has held only nulls by its first value; under the others it is a `VARCHAR` like any.
    pub fn shaped(self, mut schema: Schema) -> Schema {
        if self != Contract::Evolve {
            schema.fields.iter_mut().for_each(settle);
        }
        schema
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Contract::Evolve => "evolve",
            Contract::Freeze => "freeze",
            Contract::DiscardValue => "discard_value",
            Contract::DiscardRow => "discard_row",
        }
    }
}

/// A record kept out of its table: stored whole, as the API sent it, in `{table}__quarantine`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedRecord {
    /// Its index in its page.
    pub index: usize,
    /// Its JSON text, exactly as it was in the body.
    pub record: String,
    /// The JSON Pointer of the field that does not fit, within the record (empty: the record).
    pub field: String,
    pub reason: String,
}

/// A page that did not fit its table's schema, taken record by record.
#[derive(Debug)]
pub struct EvolvedPage {
    /// The schema the page's records need (the table's, widened; the same under any contract
    /// but `evolve`).
    pub schema: Schema,
    /// The records loaded, decoded with `schema`.
    pub batch: RecordBatch,
    /// Every record of the page: loaded + quarantined.
    pub records: usize,
    pub quarantined: Vec<QuarantinedRecord>,
    /// Values left out of loaded records (`discard_value`).
    pub discarded_values: u64,
}

/// Why a page could not be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvolveError {
    #[error("{0}")]
    Body(DecodeError),
    /// `freeze`: the first record that would change the table.
    #[error("record {record}, field {field}: {reason} (the contract is freeze: the table is not changed)")]
    Frozen { record: usize, field: String, reason: String },
}

/// `field` without its marks of having held only nulls, at any depth.
fn settle(field: &mut Field) {
    if field.fake == Fake::Null {
        field.fake = Fake::Generic;
    }
    match &mut field.ty {
        ColumnType::Struct(members) => members.iter_mut().for_each(settle),
        ColumnType::List { element, .. } => settle(element),
        _ => {}
    }
}

/// Takes the records at `records` in `body`, one by one, against `schema` (whose `declared`
/// columns never change) under `contract`.
pub fn evolve_page(
    schema: &Schema,
    declared: &[Field],
    body: &[u8],
    records: &JsonPointer,
    contract: Contract,
) -> Result<EvolvedPage, EvolveError> {
    let raw = raw_records(body, records)?;
    let mut schema = schema.clone();
    let mut fitting: Vec<String> = Vec::new();
    let mut quarantined = Vec::new();
    let mut discarded_values = 0;
    for (index, record) in raw.iter().enumerate() {
        let text = record.get();
        let mut quarantine = |field: String, reason: String| {
            quarantined.push(QuarantinedRecord { index, record: text.to_string(), field, reason })
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| EvolveError::Body(DecodeError::Syntax(e.to_string())))?;
        if !value.is_object() {
            if contract == Contract::Freeze {
                return Err(EvolveError::Frozen {
                    record: index,
                    field: String::new(),
                    reason: "not an object".into(),
                });
            }
            quarantine(String::new(), "the record is not an object".into());
            continue;
        }
        match contract {
            Contract::Evolve => {
                let candidate = match widen(&schema, text.as_bytes(), declared) {
                    Ok(candidate) => candidate,
                    Err(e) => {
                        quarantine(String::new(), e.to_string());
                        continue;
                    }
                };
                match record_misfit(&candidate, &value, true) {
                    None => {
                        schema = candidate;
                        fitting.push(text.to_string());
                    }
                    Some((field, reason)) => quarantine(field, reason),
                }
            }
            Contract::Freeze | Contract::DiscardRow => match record_misfit(&schema, &value, true) {
                None => fitting.push(text.to_string()),
                Some((field, reason)) if contract == Contract::Freeze => {
                    return Err(EvolveError::Frozen { record: index, field, reason });
                }
                Some((field, reason)) => quarantine(field, reason),
            },
            Contract::DiscardValue => {
                let mut value = value;
                // Each round nulls one misfit value: a record has finitely many.
                while let Some((field, reason)) = record_misfit(&schema, &value, true) {
                    match value.pointer_mut(&field) {
                        Some(misfit) if !field.is_empty() => *misfit = serde_json::Value::Null,
                        _ => {
                            quarantine(field, reason);
                            break;
                        }
                    }
                    discarded_values += 1;
                }
                if value.is_object() && record_misfit(&schema, &value, true).is_none() {
                    fitting.push(value.to_string());
                }
            }
        }
    }
    let array = format!("[{}]", fitting.join(","));
    let root = JsonPointer::parse("").expect("the empty pointer");
    let batch = decode_fitting_records_at(&schema, array.as_bytes(), &root).map_err(EvolveError::Body)?.batch;
    Ok(EvolvedPage { schema, batch, records: raw.len(), quarantined, discarded_values })
}

/// The records at `records`, each as its raw JSON text.
fn raw_records(body: &[u8], records: &JsonPointer) -> Result<Vec<Box<RawValue>>, EvolveError> {
    let mut raw = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let reached = PointerWalk::new(records, RawRecords { records: &mut raw })
        .deserialize(&mut de)
        .and_then(|r| de.end().map(|_| r))
        .map_err(|e| {
            EvolveError::Body(if e.is_syntax() || e.is_eof() || e.is_io() {
                DecodeError::Syntax(e.to_string())
            } else {
                DecodeError::Shape(e.to_string())
            })
        })?;
    if !reached {
        return Err(EvolveError::Body(DecodeError::Shape(format!("no array of records at {records} in the response"))));
    }
    Ok(raw)
}

struct RawRecords<'a> {
    records: &'a mut Vec<Box<RawValue>>,
}

impl RecordsReader for RawRecords<'_> {
    fn read<'de, A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Box<RawValue>>()? {
            self.records.push(record);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
