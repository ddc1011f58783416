//! Steady-state `/t` rides the `/s` long-poll connection: the hand-over between a phone's
//! clock loop and its state loop (the page's rule, also the load generator's).
//!
//! While the phone long-polls (a `v` is known, no error pending), a due single `/t` sample is
//! not sent on a connection of its own: the clock loop hands it over ([`Piggyback::hand_over`])
//! and the state loop, right after the next `/s` answer and before re-parking `/s?after=v`,
//! takes it ([`Piggyback::take`]) and sends it on the same keep-alive connection — after a
//! [`spread`] delay when that answer was a new state, so that a cue does not bring every due
//! phone's `/t` at the same instant. If no answer comes within the wait the clock loop gives
//! (the long-poll client timeout), or the phone stops long-polling, the clock loop gets `None`
//! and sends the sample the old way, on its own connection. Bursts never come here.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::sync::oneshot;

/// Longest [`spread`] delay, ms.
pub const SPREAD_MS: u64 = 1000;

/// The delay before a carried `/t` after an answer that changed the state: uniform in
/// 0..[`SPREAD_MS`] ms.
pub fn spread(rng: &mut impl Rng) -> Duration {
    Duration::from_millis(rng.random_range(0..=SPREAD_MS))
}

/// A due sample waiting for the state loop, and whether that loop is long-polling. `T` is what
/// the state loop reports back (the exchange's outcome).
#[derive(Debug)]
pub struct Piggyback<T> {
    long_polling: AtomicBool,
    pending: Mutex<Option<oneshot::Sender<T>>>,
}

impl<T> Default for Piggyback<T> {
    fn default() -> Self {
        Piggyback {
            long_polling: AtomicBool::new(false),
            pending: Mutex::new(None),
        }
    }
}

impl<T> Piggyback<T> {
    /// State loop: whether its next request is a parked `/s?after=v`. Turning it off sends a
    /// waiting sample back to its own connection at once.
    pub fn set_long_polling(&self, on: bool) {
        self.long_polling.store(on, Ordering::Relaxed);
        if !on {
            drop(self.take());
        }
    }

    /// Whether the state loop long-polls.
    pub fn long_polling(&self) -> bool {
        self.long_polling.load(Ordering::Relaxed)
    }

    /// State loop, after an `/s` answer: the sample to send now on its connection, if one is
    /// due. Report the outcome through the sender; dropping it sends the sample back to the
    /// clock loop's own connection.
    pub fn take(&self) -> Option<oneshot::Sender<T>> {
        self.pending.lock().expect("piggyback lock").take()
    }

    /// Clock loop, when a single sample falls due: the state loop's report, or `None` when the
    /// sample should go on its own connection (not long-polling, no answer within `wait`, or
    /// the state loop gave it back).
    pub async fn hand_over(&self, wait: Duration) -> Option<T> {
        if !self.long_polling() {
            return None;
        }
        let (tx, mut rx) = oneshot::channel();
        *self.pending.lock().expect("piggyback lock") = Some(tx);
        match tokio::time::timeout(wait, &mut rx).await {
            Ok(report) => report.ok(),
            // Taken back before the state loop took it: send it the old way.
            Err(_) if self.take().is_some() => None,
            // The state loop is sending it right now.
            Err(_) => rx.await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(35);

    #[tokio::test]
    async fn a_due_sample_rides_the_next_answer() {
        let p = Piggyback::<u32>::default();
        // Not long-polling: straight back to its own connection.
        assert_eq!(p.hand_over(WAIT).await, None);
        p.set_long_polling(true);
        let state_loop = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            p.take().expect("a sample is due").send(7).unwrap();
        };
        let (got, ()) = tokio::join!(p.hand_over(WAIT), state_loop);
        assert_eq!(got, Some(7));
        assert!(p.take().is_none());
    }

    #[tokio::test]
    async fn no_answer_in_time_or_an_error_sends_it_alone() {
        let p = Piggyback::<u32>::default();
        p.set_long_polling(true);
        assert_eq!(p.hand_over(Duration::from_millis(20)).await, None);
        assert!(p.take().is_none(), "taken back");
        let state_loop = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            p.set_long_polling(false);
        };
        let (got, ()) = tokio::join!(p.hand_over(WAIT), state_loop);
        assert_eq!(got, None);
    }

    #[tokio::test]
    async fn a_sample_taken_before_the_deadline_is_still_reported() {
        let p = Piggyback::<u32>::default();
        p.set_long_polling(true);
        let state_loop = async {
            let tx = loop {
                if let Some(tx) = p.take() {
                    break tx;
                }
                tokio::task::yield_now().await;
            };
            // The exchange outlasts the clock loop's wait.
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(9).unwrap();
        };
        let (got, ()) = tokio::join!(p.hand_over(Duration::from_millis(10)), state_loop);
        assert_eq!(got, Some(9));
    }
}
