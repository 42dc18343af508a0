//! A decoded page made to fit its table as the table is now: pages are decoded with the schema
//! they were fetched under, and a page fetched in parallel may commit after another page widened
//! the table. Widening is lossless, so every older batch converts: a column the page lacks is
//! null, `BIGINT` becomes `DOUBLE`, `DATE` a timestamp, a `STRUCT` gains its new members (a list
//! of them likewise), and a column that held only nulls takes its new type.
//!
//! The table's columns are in the order they were added, so those added after its creation come
//! after the lineage columns: the batch says where the lineage goes (`LINEAGE_AT`), for the
//! writer, which appends by position.

use std::collections::HashMap;
use std::sync::Arc;

use duckdb::arrow::array::{Array, ArrayRef, AsArray, ListArray, StructArray, new_null_array};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Schema as ArrowSchema, TimeUnit, TimestampMicrosecondType};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::record_batch::RecordBatch;

use crate::catalog::Schema;
use crate::catalog::decode::arrow_fields;

/// The key of a batch's Arrow metadata that says how many of its columns come before the lineage
/// columns (absent: all of them).
pub const LINEAGE_AT: &str = "duckhaul.lineage_at";

/// `batch` with `table`'s columns, in its order, each of its type; `lineage_at`: how many of the
/// table's record columns come before its lineage columns. A batch that already fits is
/// returned as it is.
pub fn conform(batch: RecordBatch, table: &Schema, lineage_at: usize) -> Result<RecordBatch, ArrowError> {
    let fields = arrow_fields(&table.fields);
    let fits = batch.schema().fields() == &fields;
    if fits && lineage_at >= fields.len() {
        return Ok(batch);
    }
    let n = batch.num_rows();
    let columns: Vec<ArrayRef> = fields
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(column) => conform_array(column, f.data_type()),
            None => Ok(new_null_array(f.data_type(), n)),
        })
        .collect::<Result<_, _>>()?;
    let mut schema = ArrowSchema::new(fields);
    if lineage_at < schema.fields().len() {
        schema = schema.with_metadata(HashMap::from([(LINEAGE_AT.to_string(), lineage_at.to_string())]));
    }
    RecordBatch::try_new(Arc::new(schema), columns)
}

fn conform_array(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    if array.null_count() == array.len() {
        // A column that held only nulls, whatever its type now.
        return Ok(new_null_array(to, array.len()));
    }
    match (array.data_type(), to) {
        (DataType::Struct(_), DataType::Struct(fields)) => {
            let from = array.as_struct();
            let children: Vec<ArrayRef> = fields
                .iter()
                .map(|f| match from.column_by_name(f.name()) {
                    Some(child) => conform_array(child, f.data_type()),
                    None => Ok(new_null_array(f.data_type(), from.len())),
                })
                .collect::<Result<_, _>>()?;
            Ok(Arc::new(StructArray::try_new(fields.clone(), children, from.nulls().cloned())?))
        }
        (DataType::List(_), DataType::List(element)) => {
            let from = array.as_list::<i32>();
            let values = conform_array(from.values(), element.data_type())?;
            Ok(Arc::new(ListArray::try_new(element.clone(), from.offsets().clone(), values, from.nulls().cloned())?))
        }
        // A date is midnight UTC: cast as a naive timestamp, then zoned, because arrow's cast
        // knows zones by name only with chrono-tz.
        (DataType::Date32, DataType::Timestamp(TimeUnit::Microsecond, Some(zone))) => {
            let naive = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            Ok(Arc::new(naive.as_primitive::<TimestampMicrosecondType>().clone().with_timezone(zone.clone())))
        }
        _ => cast(array, to),
    }
}
