//! Completes the spec the route macros generate with what comes from the layers around every
//! route rather than from a handler: the bearer security scheme, and the answers of the auth,
//! body-limit, job-cap, timeout and panic layers (401, 413, 429, 500, 503), each with an
//! example; plus links from job-starting answers to the job's own routes, how a client calls
//! the routes that can wait for a job, and the server the spec describes.

use serde_json::json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Type};

/// Routes anyone may call, tokens or not.
const PUBLIC: &[&str] = &["/healthz"];
/// Operations that start a job, so the job cap applies.
const JOB_STARTS: &[&str] = &["start_ingest", "start_export", "resume_job"];

/// Appended to the description of every operation with a `wait` parameter: a waiting request
/// holds for as long as the job runs, far past the timeouts HTTP clients have by default.
const WAITING: &str = "**Waiting.** With `wait=true` the request holds until the job has finished (200), or for \
     DUCKHAUL_MAX_WAIT_SECS (default 3600) and then answers 202 with the job still running. Give a waiting client a \
     timeout above the job's duration (the server answers within DUCKHAUL_MAX_WAIT_SECS plus \
     DUCKHAUL_REQUEST_TIMEOUT_SECS at the latest): clients default to 10 to 60 seconds, and one that gives up leaves \
     the job running. Or leave `wait` off and poll `GET /jobs/{id}` (the `Location` header) until `state` is neither \
     `queued` nor `running`.";

pub fn complete(spec: &mut OpenApi) {
    // A relative `/` is what OpenAPI assumes without `servers`, written out for clients and
    // linters that want it: the same host that serves the document, wherever it is deployed.
    spec.servers = Some(vec![
        ServerBuilder::new()
            .url("/")
            .description(Some(
                "The duckhaul that serves this document at /openapi.json; a client built from the file alone is \
                 given the service's URL, e.g. http://127.0.0.1:8080 locally or the Cloud Run service's URL.",
            ))
            .build(),
    ]);
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "One of the tokens in DUCKHAUL_API_TOKENS, as `Authorization: Bearer <token>`. Required only when \
                     the server has tokens configured; without them duckhaul relies on Cloud Run IAM.",
                ))
                .build(),
        ),
    );
    spec.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);

    for (path, item) in spec.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        for op in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten()
        {
            if public {
                // An empty list lifts the global requirement.
                op.security = Some(Vec::new());
            } else {
                add(op, 401, unauthorized());
                add(
                    op,
                    503,
                    problem(
                        "The request took longer than DUCKHAUL_REQUEST_TIMEOUT_SECS (or, with wait=true, DUCKHAUL_MAX_WAIT_SECS more), or duckhaul is shutting down",
                        503,
                        "timeout",
                        "Request timed out",
                        "the request took longer than 30s",
                    ),
                );
            }
            if op.request_body.is_some() {
                add(
                    op,
                    413,
                    problem(
                        "The body is larger than DUCKHAUL_BODY_LIMIT_BYTES",
                        413,
                        "body-too-large",
                        "Request body too large",
                        "Failed to buffer the request body: length limit exceeded (the limit is DUCKHAUL_BODY_LIMIT_BYTES)",
                    ),
                );
            }
            if waits(op) {
                let description = op.description.take().map_or_else(String::new, |d| format!("{d}\n\n"));
                op.description = Some(format!("{description}{WAITING}"));
            }
            let id = op.operation_id.clone().unwrap_or_default();
            if JOB_STARTS.contains(&id.as_str()) {
                add(op, 429, too_many_jobs());
                link_to_job(op);
            }
            add(
                op,
                500,
                problem(
                    "Unexpected error; the body says nothing of the cause, the server log has it",
                    500,
                    "internal",
                    "Internal error",
                    "something went wrong on our side; the server log has the details",
                ),
            );
        }
    }
}

/// Whether the operation takes `?wait=true`.
fn waits(op: &Operation) -> bool {
    let is_wait =
        |p: &RefOr<Parameter>| matches!(p, RefOr::T(p) if p.name == "wait" && p.parameter_in == ParameterIn::Query);
    op.parameters.iter().flatten().any(is_wait)
}

fn add(op: &mut Operation, status: u16, response: utoipa::openapi::Response) {
    op.responses.responses.entry(status.to_string()).or_insert(RefOr::T(response));
}

fn problem_content(status: u16, slug: &str, title: &str, detail: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .example(Some(json!({"type": format!("/problems/{slug}"), "title": title, "status": status, "detail": detail})))
        .build()
}

fn problem(description: &str, status: u16, slug: &str, title: &str, detail: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", problem_content(status, slug, title, detail))
        .build()
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn unauthorized() -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("Tokens are configured and the request has no valid `Authorization: Bearer` token")
        .content(
            "application/problem+json",
            problem_content(
                401,
                "unauthorized",
                "Unauthorized",
                "a valid bearer token is required: Authorization: Bearer <token>",
            ),
        )
        .header("WWW-Authenticate", string_header("`Bearer realm=\"duckhaul\"`"))
        .build()
}

fn too_many_jobs() -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("DUCKHAUL_MAX_RUNNING_JOBS jobs are queued or running already")
        .content(
            "application/problem+json",
            problem_content(
                429,
                "too-many-jobs",
                "Too many jobs",
                "8 jobs are already running, the most allowed at once; try again when one has finished",
            ),
        )
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        )
        .build()
}

/// OpenAPI links from an answer carrying a job to `GET /jobs/{id}` and the job's actions, so
/// clients (and schemathesis's stateful tests) can follow them.
fn link_to_job(op: &mut Operation) {
    for status in ["200", "202"] {
        if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
            for (name, target, description) in
                [("GetJob", "get_job", "The job this answer describes"), ("CancelJob", "cancel_job", "Cancel the job")]
            {
                response.links.entry(name.into()).or_insert_with(|| {
                    RefOr::T(
                        LinkBuilder::new()
                            .operation_id(target)
                            .parameter("id", "$response.body#/id")
                            .description(description)
                            .build(),
                    )
                });
            }
        }
    }
}
