#!/usr/bin/env python3
"""The Python pipeline duckhaul replaces, for `scripts/bench --python-pipeline` to time beside it.

  bench_python_pipeline.py --url http://127.0.0.1:PORT/api/v2 --resource users --quantity 100000
                           --seed 1 --database PATH

aiohttp fetches the Faker pages 8 at a time (a semaphore of 8), each page becomes a pandas
DataFrame, and every 10 pages `INSERT INTO t BY NAME SELECT * FROM df` writes them into a DuckDB
file: the script a team writes before it has duckhaul. Page i is `_seed = seed + i`, as a
duckhaul ingest with the same seed fetches it, so both write the same records. It prints one
JSON object: rows written, wall time, CPU seconds (user + system of every thread of this
process, DuckDB's included) and peak RSS.

Its packages are pinned in bench_python_pipeline.requirements.txt; scripts/bench installs them
into a venv of its own. Not stdlib only, unlike scripts/bench, which is why it is a file apart.
"""

import argparse
import asyncio
import json
import os
import sys
import time

import aiohttp
import duckdb
import pandas as pd

PAGE_SIZE = 1000
CONCURRENCY = 8
PAGES_PER_INSERT = 10


def rss_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def cpu_seconds():
    t = os.times()
    return t.user + t.system


async def fetch_page(session, semaphore, url, resource, quantity, seed):
    # The parameters in another order than duckhaul's: the same page, but another key in the
    # Faker server's cache of recently rendered pages, so neither side is served the page the
    # other just made it render.
    params = {"_seed": str(seed), "_quantity": str(quantity), "_locale": "en_US"}
    async with semaphore:
        async with session.get(f"{url}/{resource}", params=params) as response:
            response.raise_for_status()
            payload = await response.json()
    records = payload["data"]
    if len(records) != quantity:
        raise RuntimeError(f"page with seed {seed}: {len(records)} records, expected {quantity}")
    return pd.DataFrame(records)


def insert(con, table, frames, created):
    df = pd.concat(frames, ignore_index=True)
    if not created:
        # The table takes the first batch's columns; every batch after it is inserted by name.
        con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM df LIMIT 0')
    con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM df')


async def run(args, con):
    pages = [(min(PAGE_SIZE, args.quantity - start), args.seed + i)
             for i, start in enumerate(range(0, args.quantity, PAGE_SIZE))]
    semaphore = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.ensure_future(fetch_page(session, semaphore, args.url, args.resource, quantity, seed))
                 for quantity, seed in pages]
        frames, created = [], False
        try:
            for next_page in asyncio.as_completed(tasks):
                frames.append(await next_page)
                if len(frames) == PAGES_PER_INSERT:
                    insert(con, args.table, frames, created)
                    frames, created = [], True
            if frames:
                insert(con, args.table, frames, created)
        finally:
            for task in tasks:
                task.cancel()
    return len(pages)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the Faker API's base URL, e.g. http://127.0.0.1:8080/api/v2")
    parser.add_argument("--resource", required=True)
    parser.add_argument("--quantity", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True, help="page i is fetched with seed + i, as duckhaul does")
    parser.add_argument("--database", required=True, help="the DuckDB file (created)")
    parser.add_argument("--table", help="default: the resource's name")
    args = parser.parse_args()
    args.table = args.table or args.resource

    os.makedirs(os.path.dirname(os.path.abspath(args.database)), exist_ok=True)
    con = duckdb.connect(args.database)
    idle_mb = rss_mb("VmRSS")
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    pages = asyncio.run(run(args, con))
    wall = time.perf_counter() - t0
    rows = con.execute(f'SELECT count(*) FROM "{args.table}"').fetchone()[0]
    # Closing checkpoints the WAL into the file: counted in CPU (as the bench counts duckhaul's
    # checkpoint after a job), and its time given apart from the wall time to the last insert.
    con.close()
    closed = time.perf_counter() - t0
    json.dump({
        "resource": args.resource,
        "rows": rows,
        "pages": pages,
        "wall": wall,
        "wall_closed": closed,
        "cpu": cpu_seconds() - cpu0,
        "peak_mb": rss_mb("VmHWM"),
        "idle_mb": idle_mb,
        "versions": {"python": sys.version.split()[0], "aiohttp": aiohttp.__version__,
                     "pandas": pd.__version__, "duckdb": duckdb.__version__},
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
