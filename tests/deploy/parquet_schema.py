"""Reads exported Parquet files with pyarrow and prints, per file, what BigQuery would see.

Usage: python parquet_schema.py FILE...  ->  JSON {file: {...}} on stdout, where each entry has
  fields        the schema as BigQuery maps Parquet (name, type, mode, fields), from pyarrow's
                types: string STRING, int32/int64 INTEGER, double FLOAT, bool BOOLEAN,
                date32 DATE, UTC timestamp TIMESTAMP, naive timestamp DATETIME, struct RECORD,
                list<element> the element with mode REPEATED
  rows, row_groups, row_group_bytes (compressed), compressions, created_by
  list_paths    every column path through a LIST, to check the 3-level list/element layout
"""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def bq_type(t):
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "STRING"
    if pa.types.is_integer(t):
        return "INTEGER"
    if pa.types.is_floating(t):
        return "FLOAT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        if t.unit != "us":
            return f"TIMESTAMP[{t.unit}]"
        return "TIMESTAMP" if t.tz in ("UTC", "+00:00") else "DATETIME"
    if pa.types.is_struct(t):
        return "RECORD"
    return f"unmapped:{t}"


def field(name, t, repeated=False):
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        if repeated:
            return {"name": name, "type": "unmapped:list<list>", "mode": "REPEATED"}
        return field(name, t.value_type, repeated=True)
    out = {"name": name, "type": bq_type(t), "mode": "REPEATED" if repeated else "NULLABLE"}
    if pa.types.is_struct(t):
        out["fields"] = [field(t.field(i).name, t.field(i).type) for i in range(t.num_fields)]
    return out


def describe(path):
    pf = pq.ParquetFile(path)
    md = pf.metadata
    schema = pf.schema_arrow
    return {
        "fields": [field(f.name, f.type) for f in schema],
        "rows": md.num_rows,
        "row_groups": md.num_row_groups,
        "compressions": sorted({md.row_group(i).column(j).compression
                                for i in range(md.num_row_groups) for j in range(md.num_columns)}),
        "created_by": md.created_by,
        "row_group_bytes": [sum(md.row_group(i).column(j).total_compressed_size for j in range(md.num_columns))
                            for i in range(md.num_row_groups)],
        "list_paths": [pf.schema.column(i).path for i in range(len(pf.schema))
                       if ".list." in pf.schema.column(i).path or pf.schema.column(i).path.endswith(".list")],
    }


print(json.dumps({p: describe(p) for p in sys.argv[1:]}))
