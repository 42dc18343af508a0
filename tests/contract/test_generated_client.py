"""A Python client generated from openapi/openapi.json by openapi-python-client drives a live
duckhaul: ingest -> export -> status -> job. Proves the committed spec is usable as is.

Run by scripts/contract-test, which starts duckhaul and sets DUCKHAUL_CONTRACT_URL and
DUCKHAUL_CONTRACT_TOKEN (the server's only bearer token).
"""

import importlib
import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"


@pytest.fixture(scope="session")
def api(tmp_path_factory):
    """The generated package, imported from a temp dir (never committed)."""
    out = tmp_path_factory.mktemp("client")
    config = out / "config.yaml"
    config.write_text("post_hooks: []\n")
    generator = pathlib.Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [str(generator), "generate", "--path", str(SPEC), "--meta", "none",
         "--output-path", str(out / "duckhaul_client"), "--config", str(config), "--fail-on-warning"],
        check=True,
    )
    sys.path.insert(0, str(out))
    return importlib.import_module("duckhaul_client")


@pytest.fixture()
def client(api):
    return api.AuthenticatedClient(
        base_url=os.environ["DUCKHAUL_CONTRACT_URL"],
        token=os.environ["DUCKHAUL_CONTRACT_TOKEN"],
        raise_on_unexpected_status=True,
        # Calls with wait=True hold until the job ends: the spec asks waiting clients for a
        # timeout above the job's duration, and every job here takes seconds at most.
        timeout=120.0,
    )


def test_ingest_export_status_and_job(api, client):
    from duckhaul_client.api.export import start_export
    from duckhaul_client.api.ingest import start_ingest
    from duckhaul_client.api.jobs import get_job, list_jobs
    from duckhaul_client.api.service import status
    from duckhaul_client.models import (ExportMode, ExportRequest, IngestRequest, JobKind, JobState,
                                        JobView, ResourceName)

    # Waiting ingest: 200 with the finished job.
    done = start_ingest.sync_detailed(client=client, wait=True,
                                      body=IngestRequest(resource=ResourceName.USERS, quantity=2500, seed=7))
    assert done.status_code == 200, done.content
    assert isinstance(done.parsed, JobView)
    assert done.parsed.state == JobState.SUCCEEDED
    assert (done.parsed.rows, done.parsed.pages_done, done.parsed.base_seed) == (2500, 3, 7)

    # Background ingest: 202 with Location, then followed through GET /jobs/{id}.
    queued = start_ingest.sync_detailed(client=client,
                                        body=IngestRequest(resource=ResourceName.USERS, quantity=500, seed=9000))
    assert queued.status_code == 202, queued.content
    assert queued.headers["location"] == f"/jobs/{queued.parsed.id}"
    job = queued.parsed
    for _ in range(600):
        job = get_job.sync(client=client, id=queued.parsed.id)
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            break
        time.sleep(0.1)
    assert job.state == JobState.SUCCEEDED and job.rows == 500

    exported = start_export.sync(client=client, wait=True,
                                 body=ExportRequest(tables=["users"], mode=ExportMode.SNAPSHOT))
    assert isinstance(exported, JobView)
    assert exported.kind == JobKind.EXPORT and exported.state == JobState.SUCCEEDED
    assert [(o.table, o.rows) for o in exported.objects] == [("users", 3000)]
    assert pathlib.Path(exported.objects[0].uri).is_file()

    state = status.sync(client=client)
    assert [(t.name, t.rows) for t in state.tables] == [("users", 3000)]
    assert state.last_exports[0].export_id == exported.id
    assert [j.id for j in state.recent_jobs][:3] == [exported.id, queued.parsed.id, done.parsed.id]

    # The job list, two at a time: the cursor (and the Link header) leads to the rest.
    first = list_jobs.sync_detailed(client=client, limit=2)
    assert [j.id for j in first.parsed.jobs] == [exported.id, queued.parsed.id]
    assert first.headers["link"] == f'</jobs?limit=2&cursor={queued.parsed.id}>; rel="next"'
    rest = list_jobs.sync(client=client, limit=2, cursor=first.parsed.next_)
    assert [j.id for j in rest.jobs][:1] == [done.parsed.id]

    again = get_job.sync(client=client, id=exported.id)
    assert again.state == JobState.SUCCEEDED
    assert again.objects[0].crc32c == exported.objects[0].crc32c


def test_errors_parse_as_problems(api, client):
    from duckhaul_client.api.ingest import start_ingest
    from duckhaul_client.api.jobs import get_job
    from duckhaul_client.api.service import status
    from duckhaul_client.models import IngestRequest, Problem, ResourceName

    invalid = start_ingest.sync_detailed(client=client, body=IngestRequest(resource=ResourceName.USERS, quantity=0))
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, Problem)
    assert [e.field for e in invalid.parsed.errors] == ["quantity"]

    missing = get_job.sync(client=client, id="no-such-job")
    assert isinstance(missing, Problem) and missing.status == 404

    anonymous = api.Client(base_url=os.environ["DUCKHAUL_CONTRACT_URL"], raise_on_unexpected_status=True)
    refused = status.sync_detailed(client=anonymous)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert isinstance(refused.parsed, Problem) and refused.parsed.type_ == "/problems/unauthorized"


# Last in the file: the first test expects `users` to be the only table.
def test_a_failed_ingest_resumes_and_waits(api, client):
    from duckhaul_client.api.ingest import start_ingest
    from duckhaul_client.api.jobs import resume_job
    from duckhaul_client.models import IngestRequest, JobState, JobView, ResourceName

    # 8 pages at 6 a minute: the first 6 at once (the burst), the 7th not before 10 s, so the
    # 1 s deadline fails the job with 2 pages to fetch, on a machine of any speed.
    failed = start_ingest.sync(client=client, wait=True, body=IngestRequest(
        resource=ResourceName.BOOKS, quantity=8, page_size=1, seed=11, rate_limit_per_minute=6, deadline_secs=1))
    assert isinstance(failed, JobView) and failed.state == JobState.FAILED, failed
    assert (failed.pages_done, failed.rows) == (6, 6)

    # Resumed under the same id with a fresh allowance; the waiting call answers 200 with the
    # whole job done, within the client's timeout above.
    resumed = resume_job.sync_detailed(client=client, id=failed.id, wait=True)
    assert resumed.status_code == 200, resumed.content
    assert isinstance(resumed.parsed, JobView)
    assert resumed.parsed.id == failed.id and resumed.parsed.state == JobState.SUCCEEDED
    assert (resumed.parsed.pages_done, resumed.parsed.rows) == (8, 8)
