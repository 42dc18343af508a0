//! A merged column chunk's statistics, from those of the chunks it joins: written again by the
//! regrouped file's writer, so they must be right for the whole chunk or absent.

use parquet::basic::SortOrder;
use parquet::data_type::ByteArray;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::statistics::{Statistics, ValueStatistics};

/// The chunks' statistics as one: the least minimum, the greatest maximum and the summed null
/// (and NaN) counts. None where a chunk lacks statistics or the type's order is not one
/// compared here (fixed-length bytes such as DECIMAL, INT96, signed bytes): statistics are
/// optional, a wrong one is not.
pub(super) fn merged_statistics(order: SortOrder, chunks: &[&ColumnChunkMetaData]) -> Option<Statistics> {
    let all: Vec<(&Statistics, i64)> =
        chunks.iter().map(|c| Some((c.statistics()?, c.num_values()))).collect::<Option<_>>()?;
    if all.iter().any(|(s, _)| s.is_min_max_deprecated()) {
        // Legacy min/max may be in another order than the type's.
        return None;
    }
    macro_rules! typed {
        ($variant:ident) => {
            |s: &Statistics| match s {
                Statistics::$variant(v) => Some(v),
                _ => None,
            }
        };
    }
    let signed = order == SortOrder::SIGNED;
    match (all[0].0, order) {
        (Statistics::Boolean(_), _) => merge(&all, typed!(Boolean), bool::cmp).map(Statistics::Boolean),
        (Statistics::Int32(_), SortOrder::SIGNED) => merge(&all, typed!(Int32), i32::cmp).map(Statistics::Int32),
        (Statistics::Int32(_), SortOrder::UNSIGNED) => {
            merge(&all, typed!(Int32), |a: &i32, b: &i32| (*a as u32).cmp(&(*b as u32))).map(Statistics::Int32)
        }
        (Statistics::Int64(_), SortOrder::SIGNED) => merge(&all, typed!(Int64), i64::cmp).map(Statistics::Int64),
        (Statistics::Int64(_), SortOrder::UNSIGNED) => {
            merge(&all, typed!(Int64), |a: &i64, b: &i64| (*a as u64).cmp(&(*b as u64))).map(Statistics::Int64)
        }
        (Statistics::Float(_), _) => {
            let v = merge(&all, typed!(Float), f32::total_cmp)?;
            Some(Statistics::Float(signed_zeros(v, all.iter().map(|(s, _)| nan_count(s)), 0.0)))
        }
        (Statistics::Double(_), _) => {
            let v = merge(&all, typed!(Double), f64::total_cmp)?;
            Some(Statistics::Double(signed_zeros(v, all.iter().map(|(s, _)| nan_count(s)), 0.0)))
        }
        (Statistics::ByteArray(_), SortOrder::UNSIGNED) => {
            merge(&all, typed!(ByteArray), |a: &ByteArray, b: &ByteArray| a.data().cmp(b.data()))
                .map(Statistics::ByteArray)
        }
        _ => None,
    }
    .map(|s| with_legacy_bounds(s, signed))
}

fn nan_count(s: &Statistics) -> Option<u64> {
    match s {
        Statistics::Float(v) => v.nan_count_opt(),
        Statistics::Double(v) => v.nan_count_opt(),
        _ => None,
    }
}

/// Merges one type's statistics. A chunk holding only nulls has no bounds and adds none.
fn merge<T: Clone>(
    all: &[(&Statistics, i64)],
    typed: impl Fn(&Statistics) -> Option<&ValueStatistics<T>>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Option<ValueStatistics<T>> {
    let (mut min, mut max): (Option<&T>, Option<&T>) = (None, None);
    let mut exact = true;
    let mut nulls = Some(0u64);
    for (stats, values) in all {
        let v = typed(stats)?;
        nulls = nulls.zip(v.null_count_opt()).map(|(a, b)| a + b);
        match (v.min_opt(), v.max_opt()) {
            (Some(lo), Some(hi)) => {
                min = Some(match min {
                    Some(m) if cmp(m, lo).is_le() => m,
                    _ => lo,
                });
                max = Some(match max {
                    Some(m) if cmp(m, hi).is_ge() => m,
                    _ => hi,
                });
                exact &= v.min_is_exact() && v.max_is_exact();
            }
            _ if v.null_count_opt() == Some(*values as u64) => {}
            _ => return None,
        }
    }
    Some(
        ValueStatistics::new(min.cloned(), max.cloned(), None, nulls, false)
            .with_min_is_exact(exact && min.is_some())
            .with_max_is_exact(exact && max.is_some()),
    )
}

/// Floating-point bounds for the IEEE 754 total order the output declares (parquet-rs writes
/// it for FLOAT and DOUBLE columns): DuckDB compares -0.0 and +0.0 as equal, so a bound of
/// zero is widened to -0.0 below and +0.0 above; and the NaN count, which that order needs.
fn signed_zeros<T: Copy + PartialEq + std::ops::Neg<Output = T>>(
    v: ValueStatistics<T>,
    nan_counts: impl Iterator<Item = Option<u64>>,
    zero: T,
) -> ValueStatistics<T> {
    let widen = |x: Option<&T>, to: T| x.map(|x| if *x == zero { to } else { *x });
    let (min, max) = (widen(v.min_opt(), -zero), widen(v.max_opt(), zero));
    let nans = nan_counts.sum::<Option<u64>>();
    let (min_exact, max_exact) = (v.min_is_exact(), v.max_is_exact());
    ValueStatistics::new(min, max, None, v.null_count_opt(), false)
        .with_min_is_exact(min_exact)
        .with_max_is_exact(max_exact)
        .with_nan_count(nans)
}

/// Also fills the deprecated min/max fields where their (signed) order is the type's, as
/// parquet-rs's own writer does, for readers that know only those.
fn with_legacy_bounds(s: Statistics, signed: bool) -> Statistics {
    match s {
        Statistics::Boolean(v) => Statistics::Boolean(v.with_backwards_compatible_min_max(signed)),
        Statistics::Int32(v) => Statistics::Int32(v.with_backwards_compatible_min_max(signed)),
        Statistics::Int64(v) => Statistics::Int64(v.with_backwards_compatible_min_max(signed)),
        Statistics::Float(v) => Statistics::Float(v.with_backwards_compatible_min_max(signed)),
        Statistics::Double(v) => Statistics::Double(v.with_backwards_compatible_min_max(signed)),
        other => other,
    }
}
