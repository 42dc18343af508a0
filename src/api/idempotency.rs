//! The idempotency key of a job-starting request: `Idempotency-Key`, or else Cloud Scheduler's
//! `X-CloudScheduler-JobName` + `X-CloudScheduler-ScheduleTime` (Scheduler delivers at least
//! once and may call twice for one scheduled time).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::problem::ApiError;

pub struct IdempotencyKey(pub Option<String>);

const MAX_KEY_LEN: usize = 255;

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| -> Result<Option<String>, ApiError> {
            match parts.headers.get(name) {
                None => Ok(None),
                Some(v) => {
                    let v = v.to_str().ok().map(str::trim).filter(|v| !v.is_empty() && v.len() <= MAX_KEY_LEN);
                    v.map(|v| Some(v.to_string())).ok_or_else(|| ApiError::Unreadable {
                        status: StatusCode::BAD_REQUEST,
                        detail: format!("the {name} header must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                    })
                }
            }
        };
        if let Some(key) = header("idempotency-key")? {
            return Ok(IdempotencyKey(Some(key)));
        }
        let job = header("x-cloudscheduler-jobname")?;
        let time = header("x-cloudscheduler-scheduletime")?;
        Ok(IdempotencyKey(match (job, time) {
            (Some(job), Some(time)) => Some(format!("cloudscheduler:{job}@{time}")),
            _ => None,
        }))
    }
}
