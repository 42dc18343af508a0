"""schemathesis hooks for scripts/contract-test.

Keeps valid ingest requests small: the spec allows 10,000,000 records a job, and fuzzing
starts many jobs, so a valid `quantity` above 1000 is folded into 1..1000. Invalid values
(below 1, above the cap, not integers) are left alone, so negative tests still send them.

Logs every call made with `wait=true` to DUCKHAUL_CONTRACT_WAIT_LOG, one line each
(`METHOD path status seconds`), so the script can check that every waiting route was
exercised in its waiting form.
"""

import os

import schemathesis

MAX_QUANTITY = 10_000_000


@schemathesis.hook
def map_body(context, body):
    operation = context.operation
    if operation is None or operation.path != "/ingest" or not isinstance(body, dict):
        return body
    quantity = body.get("quantity")
    if type(quantity) is int and 1000 < quantity <= MAX_QUANTITY:
        body["quantity"] = 1 + quantity % 1000
    return body


@schemathesis.hook
def after_call(context, case, response):
    log = os.environ.get("DUCKHAUL_CONTRACT_WAIT_LOG")
    if log and (case.query or {}).get("wait") in (True, "true"):
        with open(log, "a") as f:
            f.write(f"{case.method.upper()} {case.path} {response.status_code} {response.elapsed:.3f}\n")
