//! The pace of one upstream path: when the next request to it may go. One `PathPace` per path
//! is shared by every job of the process, so two jobs on `users` split one budget.
//!
//! - **Token bucket** (GCRA): `rate` requests a second with up to `burst` at once; fetchers
//!   queue for their turn first come, first served, and only the head of the queue sleeps, so a
//!   freed slot sends one request, not eight.
//! - **AIMD**: a 429 halves the rate (once per congestion: 429s of requests already sent at the
//!   old rate do not halve it again), blocks the path for its `Retry-After`, and empties the
//!   bucket so no burst follows; each answered request then adds 1/30 of the configured rate
//!   back, never above it.
//! - **The upstream's headers** (`limit_headers.rs`): `Remaining` caps how many more go before
//!   `Reset`; `Remaining: 0` blocks the path until `Reset` without waiting for a 429;
//!   `Limit` caps the burst.
//!
//! Why not governor (which paces each job's own `rate_limit_per_minute`): its quota is fixed for
//! the limiter's life, so changing the rate means a new limiter that has forgotten the burst
//! just spent; it cannot hold every request until an instant given by `Retry-After` or
//! `Reset`, nor take the server's count of what is left; and its `until_ready` waiters poll
//! with jitter instead of queueing.
//!
//! The arithmetic takes `now` as an argument, so it is tested with exact instants.

use std::time::Duration;

use tokio::time::Instant;

use super::limit_headers::LimitHeaders;

/// Each answered request gives back this share of the configured rate after a cut: from half
/// the rate, 15 answers restore it (a minute at the default 30/min).
const INCREASE_SHARE: f64 = 1.0 / 30.0;
/// A 429 multiplies the rate by this.
const DECREASE: f64 = 0.5;
/// The rate never falls below this share of the configured one.
const FLOOR_SHARE: f64 = 1.0 / 32.0;
/// The wait after a 429 that names no time, at an unlimited pace.
const UNLIMITED_429_WAIT: Duration = Duration::from_millis(250);

/// How fast one process may call each upstream path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceSettings {
    /// 0: unlimited (a 429's `Retry-After` and the upstream's headers still hold requests back).
    pub requests_per_minute: f64,
    /// Requests sent at once when the bucket is full; at least 1.
    pub burst: u32,
}

impl PaceSettings {
    /// This process's share when `processes` (e.g. Cloud Run tasks) leave through one address
    /// and so share the upstream's limit: the rate and the burst divided between them.
    pub fn shared(requests_per_minute: u32, burst: u32, processes: u32) -> PaceSettings {
        let processes = processes.max(1);
        PaceSettings {
            requests_per_minute: f64::from(requests_per_minute) / f64::from(processes),
            burst: (burst / processes).max(1),
        }
    }
}

/// A request's place in the path's sequence, handed back with its answer.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    seq: u64,
    /// How long the request waited for its turn.
    pub waited: Duration,
}

/// How a request was answered, as far as the pace cares.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// 429 Too Many Requests, with its `Retry-After`.
    Throttled { retry_after: Option<Duration> },
    /// Any other status: the upstream took the request.
    Taken { success: bool },
    /// No answer (timeout, connection fault): nothing learned.
    None,
}

/// One path's shared pace. `turn` before sending, `answered` after.
#[derive(Debug)]
pub struct PathPace {
    /// Fetchers queue here (tokio's mutex is fair: first come, first served).
    turn: tokio::sync::Mutex<()>,
    state: std::sync::Mutex<PaceState>,
}

impl PathPace {
    pub fn new(settings: PaceSettings) -> PathPace {
        PathPace {
            turn: tokio::sync::Mutex::new(()),
            state: std::sync::Mutex::new(PaceState::new(settings, Instant::now())),
        }
    }

    /// Waits for this request's turn: a token, no block in force, quota left.
    pub async fn turn(&self) -> Ticket {
        let queued_at = Instant::now();
        let _head = self.turn.lock().await;
        let mut held_back = false;
        loop {
            let now = Instant::now();
            let next = {
                let mut state = self.state.lock().expect("pace lock");
                match state.next_slot(now) {
                    at if at <= now => {
                        // Only a wait the pace imposed counts, not the moment the queue took.
                        let waited = if held_back { now - queued_at } else { Duration::ZERO };
                        return Ticket { seq: state.take(now), waited };
                    }
                    at => at,
                }
            };
            held_back = true;
            // Anything learned meanwhile (a 429, a reset) is read again on waking.
            tokio::time::sleep_until(next).await;
        }
    }

    /// Learns from an answer; returns the pace now in requests per minute.
    pub fn answered(&self, ticket: Ticket, answer: Answer, limits: &LimitHeaders) -> Option<f64> {
        let mut state = self.state.lock().expect("pace lock");
        state.answered(ticket.seq, answer, limits, Instant::now());
        state.per_minute()
    }

    /// Requests per minute now; `None` when unlimited.
    pub fn per_minute(&self) -> Option<f64> {
        self.state.lock().expect("pace lock").per_minute()
    }
}

/// The arithmetic of a pace, apart from any clock.
#[derive(Debug)]
struct PaceState {
    /// The configured rate, per minute; `None`: unlimited.
    ceiling: Option<f64>,
    /// The rate in force, per minute (at most the ceiling).
    rate: f64,
    configured_burst: u32,
    /// The burst in force: the configured one, or less when the upstream's `Limit` is lower.
    burst: u32,
    /// GCRA's theoretical arrival time: a request may go when `now >= tat - (burst - 1) * interval`.
    tat: Instant,
    /// No request before this (a 429's `Retry-After`, or `Remaining: 0` until `Reset`).
    blocked_until: Option<Instant>,
    /// Requests the upstream still accepts before an instant, by its own count.
    quota: Option<(u64, Instant)>,
    /// Requests handed a turn so far; a ticket's `seq` is its place.
    issued: u64,
    /// The newest request whose headers were applied (older answers are stale).
    applied: u64,
    /// Requests up to this one were sent before the last cut: their 429s cut no further.
    cut_after: u64,
}

impl PaceState {
    fn new(settings: PaceSettings, now: Instant) -> PaceState {
        let ceiling = (settings.requests_per_minute > 0.0).then_some(settings.requests_per_minute);
        let burst = settings.burst.max(1);
        PaceState {
            ceiling,
            rate: ceiling.unwrap_or(0.0),
            configured_burst: burst,
            burst,
            tat: now,
            blocked_until: None,
            quota: None,
            issued: 0,
            applied: 0,
            cut_after: 0,
        }
    }

    /// The rate in force, to a hundredth (what the job and `/metrics` show).
    fn per_minute(&self) -> Option<f64> {
        self.ceiling.map(|_| (self.rate * 100.0).round() / 100.0)
    }

    /// Time between requests at the rate in force; `None` when unlimited.
    fn interval(&self) -> Option<Duration> {
        self.ceiling.map(|_| Duration::from_secs_f64(60.0 / self.rate))
    }

    /// How far ahead of the rate a full bucket lets requests go.
    fn tolerance(&self) -> Duration {
        self.interval().map_or(Duration::ZERO, |i| i * (self.burst - 1))
    }

    /// The earliest instant the next request may go.
    fn next_slot(&mut self, now: Instant) -> Instant {
        if let Some((0, reset_at)) = self.quota {
            // The upstream's count is spent: treat it as the block it is.
            self.quota = None;
            self.block_until(reset_at);
        }
        if self.quota.is_some_and(|(_, reset_at)| reset_at <= now) {
            self.quota = None;
        }
        let mut at = now;
        if let Some(until) = self.blocked_until {
            if until > now {
                at = until;
            } else {
                self.blocked_until = None;
            }
        }
        if self.ceiling.is_some() {
            at = at.max(self.tat.checked_sub(self.tolerance()).unwrap_or(now));
        }
        at
    }

    /// Gives the request at `now` its turn; returns its sequence number.
    fn take(&mut self, now: Instant) -> u64 {
        if let Some(interval) = self.interval() {
            self.tat = self.tat.max(now) + interval;
        }
        if let Some((left, _)) = &mut self.quota {
            *left = left.saturating_sub(1);
        }
        self.issued += 1;
        self.issued
    }

    /// No request before `until`, and none in a burst after it: the bucket restarts empty.
    fn block_until(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        let tolerance = self.tolerance();
        self.tat = self.tat.max(until + tolerance);
    }

    fn answered(&mut self, seq: u64, answer: Answer, limits: &LimitHeaders, now: Instant) {
        self.apply_limits(seq, limits, now);
        match answer {
            Answer::Throttled { retry_after } => {
                if let Some(ceiling) = self.ceiling
                    && seq > self.cut_after
                {
                    self.rate = (self.rate * DECREASE).max(ceiling * FLOOR_SHARE);
                    self.cut_after = self.issued;
                }
                let wait = retry_after
                    .or(limits.reset.filter(|r| !r.is_zero()))
                    .or(self.interval())
                    .unwrap_or(UNLIMITED_429_WAIT);
                self.block_until(now + wait);
            }
            Answer::Taken { success: true } => {
                if let Some(ceiling) = self.ceiling {
                    self.rate = (self.rate + ceiling * INCREASE_SHARE).min(ceiling);
                }
            }
            Answer::Taken { success: false } | Answer::None => {}
        }
    }

    /// Takes the upstream's own count, as of request `seq`, into account.
    fn apply_limits(&mut self, seq: u64, limits: &LimitHeaders, now: Instant) {
        if limits.is_empty() || seq <= self.applied {
            return;
        }
        self.applied = seq;
        if let Some(limit) = limits.limit.filter(|l| *l > 0) {
            self.burst = self.configured_burst.min(limit.min(u64::from(u32::MAX)) as u32);
        }
        let Some(remaining) = limits.remaining else { return };
        // Requests sent after this one may not be in the upstream's count yet: assume they are
        // spending it.
        let left = remaining.saturating_sub(self.issued - seq);
        match limits.reset {
            Some(reset) if left == 0 => self.block_until(now + reset),
            Some(reset) => self.quota = Some((left, now + reset)),
            // Nothing left and no word on when: no burst, the next request waits its interval.
            None if left == 0 => {
                let next = now + self.interval().unwrap_or(Duration::ZERO);
                self.tat = self.tat.max(next + self.tolerance());
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn pace(per_minute: f64, burst: u32, t0: Instant) -> PaceState {
        PaceState::new(PaceSettings { requests_per_minute: per_minute, burst }, t0)
    }

    /// Sends as soon as the pace allows, `n` times from `from`; returns the send instants.
    fn send(p: &mut PaceState, n: usize, from: Instant) -> Vec<Instant> {
        let mut now = from;
        (0..n)
            .map(|_| {
                now = now.max(p.next_slot(now));
                p.take(now);
                now
            })
            .collect()
    }

    fn offsets(t0: Instant, at: &[Instant]) -> Vec<u128> {
        at.iter().map(|t| (*t - t0).as_millis()).collect()
    }

    #[test]
    fn a_burst_then_one_request_per_interval() {
        let t0 = Instant::now();
        let mut p = pace(600.0, 4, t0);
        assert_eq!(offsets(t0, &send(&mut p, 7, t0)), [0, 0, 0, 0, 100, 200, 300]);
        assert_eq!(p.per_minute(), Some(600.0));
        // An idle path refills its bucket, but never past the burst.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(offsets(later, &send(&mut p, 5, later)), [0, 0, 0, 0, 100]);
    }

    #[test]
    fn a_429_halves_the_rate_waits_as_told_and_answers_win_it_back() {
        let t0 = Instant::now();
        let mut p = pace(600.0, 4, t0);
        let sent = send(&mut p, 4, t0);
        assert_eq!(sent.len(), 4);
        // Two of the four are refused: one congestion, one cut.
        let told = Answer::Throttled { retry_after: Some(Duration::from_secs(1)) };
        p.answered(3, told, &LimitHeaders::default(), t0 + 5 * MS);
        p.answered(4, told, &LimitHeaders::default(), t0 + 6 * MS);
        assert_eq!(p.per_minute(), Some(300.0));
        // Nothing before the Retry-After, and no burst after it.
        let after = send(&mut p, 3, t0 + 10 * MS);
        assert_eq!(offsets(t0, &after), [1006, 1206, 1406]);
        // A request sent after the cut and refused again cuts again.
        p.answered(5, told, &LimitHeaders::default(), t0 + 1010 * MS);
        assert_eq!(p.per_minute(), Some(150.0));
        for seq in 6..=40 {
            p.answered(seq, Answer::Taken { success: true }, &LimitHeaders::default(), t0 + 3 * Duration::from_secs(1));
        }
        assert_eq!(p.per_minute(), Some(600.0), "back to the configured rate, not beyond");
    }

    #[test]
    fn cuts_stop_at_a_floor() {
        let t0 = Instant::now();
        let mut p = pace(30.0, 1, t0);
        for _ in 0..20 {
            let seq = p.take(t0);
            p.answered(seq, Answer::Throttled { retry_after: None }, &LimitHeaders::default(), t0);
        }
        assert_eq!(p.per_minute(), Some(0.94), "30/32, to a hundredth");
    }

    #[test]
    fn remaining_zero_blocks_until_reset_before_any_429() {
        let t0 = Instant::now();
        let mut p = pace(1200.0, 4, t0);
        let sent = send(&mut p, 2, t0);
        assert_eq!(offsets(t0, &sent), [0, 0]);
        // The first answer says one is left; the second request, sent since, spends it.
        let first = LimitHeaders { limit: Some(5), remaining: Some(1), reset: Some(Duration::from_secs(1)) };
        p.answered(1, Answer::Taken { success: true }, &first, t0 + 2 * MS);
        assert_eq!(offsets(t0, &send(&mut p, 2, t0 + 3 * MS)), [1002, 1052]);
    }

    #[test]
    fn remaining_caps_the_requests_before_reset() {
        let t0 = Instant::now();
        let mut p = pace(6000.0, 4, t0);
        let limits = LimitHeaders { limit: Some(10), remaining: Some(2), reset: Some(Duration::from_millis(500)) };
        let seq = p.take(t0);
        p.answered(seq, Answer::Taken { success: true }, &limits, t0 + MS);
        // Two more at the local pace, then nothing until the reset, then one at a time.
        assert_eq!(offsets(t0, &send(&mut p, 5, t0 + MS)), [1, 1, 501, 511, 521]);
    }

    #[test]
    fn stale_answers_do_not_overwrite_fresher_counts() {
        let t0 = Instant::now();
        let mut p = pace(6000.0, 10, t0);
        let _ = send(&mut p, 3, t0);
        let reset = Some(Duration::from_secs(1));
        p.answered(
            3,
            Answer::Taken { success: true },
            &LimitHeaders { remaining: Some(0), reset, limit: None },
            t0 + MS,
        );
        p.answered(
            1,
            Answer::Taken { success: true },
            &LimitHeaders { remaining: Some(9), reset, limit: None },
            t0 + 2 * MS,
        );
        assert_eq!(p.next_slot(t0 + 3 * MS), t0 + 1001 * MS);
    }

    #[test]
    fn a_lower_limit_caps_the_burst() {
        let t0 = Instant::now();
        let mut p = pace(600.0, 4, t0);
        let seq = p.take(t0);
        p.answered(
            seq,
            Answer::Taken { success: true },
            &LimitHeaders { limit: Some(2), ..LimitHeaders::default() },
            t0,
        );
        let later = t0 + Duration::from_secs(5);
        assert_eq!(offsets(later, &send(&mut p, 3, later)), [0, 0, 100]);
    }

    #[test]
    fn unlimited_paths_still_wait_when_told() {
        let t0 = Instant::now();
        let mut p = pace(0.0, 4, t0);
        assert_eq!(p.per_minute(), None);
        assert_eq!(offsets(t0, &send(&mut p, 20, t0)).iter().max(), Some(&0));
        p.answered(20, Answer::Throttled { retry_after: Some(Duration::from_secs(2)) }, &LimitHeaders::default(), t0);
        assert_eq!(p.next_slot(t0), t0 + Duration::from_secs(2));
        assert_eq!(p.per_minute(), None);
    }

    #[test]
    fn processes_sharing_an_address_share_the_rate() {
        assert_eq!(PaceSettings::shared(30, 4, 1), PaceSettings { requests_per_minute: 30.0, burst: 4 });
        assert_eq!(PaceSettings::shared(30, 4, 3), PaceSettings { requests_per_minute: 10.0, burst: 1 });
        assert_eq!(PaceSettings::shared(30, 5, 2), PaceSettings { requests_per_minute: 15.0, burst: 2 });
        assert_eq!(PaceSettings::shared(30, 4, 0), PaceSettings { requests_per_minute: 30.0, burst: 4 });
    }
}
