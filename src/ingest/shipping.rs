//! A run's committed pages shipped to the destination beside it (see `crate::durable`): a
//! group once `GROUP_ROWS` rows wait, or `SHIP_EVERY` after the first page of a group, on a
//! task of its own so that fetching never waits for an upload; and whatever is left when the
//! run ends, before the job may say it succeeded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::durable::{Durable, GROUP_ROWS, SHIP_EVERY};
use crate::jobs::Outcome;

/// Attempts of the last shipment of a run (each upload retries transient errors on its own)
/// and the pause before each retry.
const LAST_SHIPMENT_PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];

/// Ships one run's pages.
pub(super) struct Shipping {
    durable: Durable,
    job_id: String,
    /// Rows committed and not yet shipped (a hint: the shipment takes what is pending).
    rows: Arc<AtomicU64>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Shipping {
    pub fn start(durable: &Durable, job_id: &str) -> Shipping {
        let (rows, wake, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(Notify::new()), CancellationToken::new());
        let task =
            tokio::spawn(ship_beside(durable.clone(), job_id.to_string(), rows.clone(), wake.clone(), stop.clone()));
        Shipping { durable: durable.clone(), job_id: job_id.to_string(), rows, wake, stop, task }
    }

    /// What a page's commit calls (on the writer's thread).
    pub fn on_commit(&self) -> impl Fn(u64) + Send + Sync + 'static {
        let (rows, wake) = (self.rows.clone(), self.wake.clone());
        move |committed| {
            rows.fetch_add(committed, Ordering::Relaxed);
            wake.notify_one();
        }
    }

    /// Ships what is left once the run ended. A run that succeeded fails if its pages cannot
    /// be made durable (they stay committed here, pending: a resume ships them).
    pub async fn finish(self, outcome: Outcome) -> Outcome {
        self.stop.cancel();
        let _ = self.task.await;
        let mut pauses = LAST_SHIPMENT_PAUSES.iter();
        let shipped = loop {
            match self.durable.ship_job(&self.job_id).await {
                Ok(_) => break Ok(()),
                Err(e) => match pauses.next() {
                    Some(pause) => {
                        tracing::warn!(error = %format!("{e:#}"), "pages not shipped yet; trying again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => break Err(e),
                },
            }
        };
        match (shipped, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(e), Outcome::Succeeded) => Outcome::Failed(format!(
                "every page is committed, but not all are durable in the destination yet ({e:#}); \
                 resume the job once the destination takes writes again"
            )),
            (Err(e), outcome) => {
                tracing::warn!(error = %format!("{e:#}"), "committed pages not shipped; a resume ships them");
                outcome
            }
        }
    }
}

/// The shipping task: a group once enough rows wait, or `SHIP_EVERY` after its first page.
async fn ship_beside(
    durable: Durable,
    job_id: String,
    rows: Arc<AtomicU64>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        // Wait for a first committed page.
        tokio::select! {
            () = wake.notified() => {}
            () = stop.cancelled() => return,
        }
        let deadline = tokio::time::Instant::now() + SHIP_EVERY;
        while rows.load(Ordering::Relaxed) < GROUP_ROWS {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep_until(deadline) => break,
                () = stop.cancelled() => return,
            }
        }
        rows.store(0, Ordering::Relaxed);
        if let Err(e) = durable.ship_job(&job_id).await {
            // The pages stay pending: the next shipment, or the run's last, takes them.
            tracing::warn!(error = %format!("{e:#}"), "pages not shipped yet");
        }
    }
}
