//! A request's time budget and cancellation, seen by the store's statements.
//!
//! The caller (the HTTP layer) runs a store call inside [`Budget::run`] on a
//! blocking thread; SQLite's progress handler, installed on every connection,
//! asks [`should_stop`] every few thousand VM steps and interrupts the
//! statement once the deadline has passed or the caller has gone. The store
//! then answers `ErrorKind::Interrupted`; the transaction rolls back, so a
//! stopped write writes nothing. Work run outside `run` (the fleet CLI, the
//! checkpointer, tests) has no budget and is never interrupted.
//!
//! A query plan may also get an *allowance* ([`with_allowance`]): a number
//! of progress checks (SQLite calls the handler every `PROGRESS_STEPS` VM
//! steps) for one attempt, after which its statement is interrupted the same
//! way, so a search can try the plan that is usually fastest and fall back
//! to one whose cost is bounded. It counts work, not time: a machine under
//! load runs the same plan it runs when quiet, instead of giving up on a
//! walk that was merely descheduled and paying for the slower plan on top.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a piece of work may run, and whether its caller still waits.
#[derive(Debug, Clone)]
pub struct Budget {
    limit: Duration,
    deadline: Instant,
    cancelled: Arc<AtomicBool>,
}

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
    /// The progress checks left to the plan attempt running on this thread, if any.
    static ALLOWANCE: Cell<Option<u64>> = const { Cell::new(None) };
    /// Whether an attempt's allowance interrupted a statement.
    static ALLOWANCE_SPENT: Cell<bool> = const { Cell::new(false) };
}

impl Budget {
    /// A budget of `limit` starting now.
    pub fn new(limit: Duration) -> Self {
        let now = Instant::now();
        Self { limit, deadline: now.checked_add(limit).unwrap_or(now), cancelled: Arc::new(AtomicBool::new(false)) }
    }

    /// The whole budget, as configured (for messages).
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Marks the work as abandoned: its statements stop at the next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// True when the work should stop (cancelled or past the deadline).
    pub fn is_spent(&self) -> bool {
        self.is_cancelled() || self.is_expired()
    }

    /// Runs `f` on this thread with this budget in force for the store.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<Budget>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }
}

/// True when the work running on this thread has spent its budget, or the
/// plan attempt running has spent its allowance.
pub(crate) fn should_stop() -> bool {
    match ALLOWANCE.get() {
        Some(0) => {
            ALLOWANCE_SPENT.set(true);
            return true;
        }
        Some(left) => ALLOWANCE.set(Some(left - 1)),
        None => {}
    }
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(Budget::is_spent))
}

/// The statement time left to the budget on this thread; `None` when
/// nothing limits it. A backend without a progress handler (PostgreSQL)
/// turns it into a statement timeout.
pub(crate) fn remaining() -> Option<Duration> {
    let deadline = CURRENT.with(|c| c.borrow().as_ref().map(|b| b.deadline))?;
    Some(deadline.saturating_duration_since(Instant::now()))
}

/// Runs `f` (one plan attempt) with at most `checks` progress checks of
/// statement work, and says whether the allowance ran out, in which case
/// `f`'s statement was interrupted and its error is the allowance's, not the
/// request's. The request's budget still applies inside.
pub(crate) fn with_allowance<T>(checks: u64, f: impl FnOnce() -> T) -> (T, bool) {
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ALLOWANCE.set(self.0);
        }
    }
    let _restore = Restore(ALLOWANCE.replace(Some(checks)));
    ALLOWANCE_SPENT.set(false);
    let started = Instant::now();
    let out = f();
    let spent = ALLOWANCE_SPENT.replace(false);
    // What the attempt cost in both units: the calibration of the planners' allowances.
    let used = checks - ALLOWANCE.get().unwrap_or(0);
    tracing::debug!(checks, used, spent, micros = started.elapsed().as_micros() as u64, "plan attempt");
    (out, spent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_only_inside_a_spent_budget() {
        let spent = Budget::new(Duration::ZERO);
        let fresh = Budget::new(Duration::from_secs(60));
        let cancelled = Budget::new(Duration::from_secs(60));
        cancelled.cancel();
        for (name, budget, stops) in
            [("spent", &spent, true), ("fresh", &fresh, false), ("cancelled", &cancelled, true)]
        {
            assert_eq!(budget.run(should_stop), stops, "{name}");
        }
        assert!(!should_stop(), "no budget outside run");
        // An allowance stops statements without a budget too, and says so.
        let ((), ran_out) = with_allowance(0, || assert!(should_stop()));
        assert!(ran_out);
        let ((), ran_out) = with_allowance(3, || assert!((0..3).all(|_| !should_stop()) && should_stop()));
        assert!(ran_out, "the fourth check is past an allowance of three");
        let ((), ran_out) = with_allowance(u64::MAX, || assert!(!should_stop()));
        assert!(!ran_out);
        assert!(!should_stop(), "no allowance after the attempt");
        // Nested runs restore the outer budget.
        fresh.run(|| {
            spent.run(|| assert!(should_stop()));
            assert!(!should_stop());
        });
    }
}
