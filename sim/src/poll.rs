//! The page's request timing rules (sans-IO): when to poll `/s` next, when to take the next
//! `/t` sample, backoff after errors and failover between relay URLs.
//!
//! Same constants as the page's `page/src/poll.js`:
//! - After a good `/s` answer: wait the server-directed `poll` ms (clamped to
//!   [`Rules::min_poll_ms`]..=[`Rules::max_poll_ms`]), ±[`Rules::jitter`] (uniform), so thousands
//!   of phones that joined together spread out.
//! - After an error (connect/timeout/5xx/garbled): wait a "full jitter" exponential backoff,
//!   uniform in `[0, min(cap, base · 2^(errors − 1)))`, at least [`Rules::min_backoff_ms`].
//!   The simulator also switches to the next relay URL at once (a page has one origin; in a
//!   venue the relays share one name), so a phone reaches a live relay within one backoff cap.
//!
//! - Long-poll (`page/src/poll.js`): once `/s` carries a version `v`, the next request is
//!   `/s?after=v`, held by the relay until the state changes or up to 30 s, with a client-side
//!   timeout of [`Rules::long_poll_timeout_ms`]; an answer re-parks at once, or within
//!   [`Rules::repark_spread_ms`] when it changed the state ([`Poller::handle_answer`]), unless it was not held and unchanged (a cache answering a
//!   stored copy) or the relay answered at once [`Rules::max_quick`] times in a row: then the
//!   plain poll pace, so a phone never spins. After an error the retry is a plain `/s`
//!   (answered at once), then the phone parks again. A relay without `v` is polled as above.
//!
//! The `/t` sampling schedule is the page's, in [`crate::sync::Schedule`].

use rand::Rng;

/// The timing constants (the page uses [`Rules::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Relative jitter applied to server-directed intervals, e.g. 0.2 for ±20 %.
    pub jitter: f64,
    /// First backoff ceiling, ms.
    pub backoff_base_ms: u64,
    /// Largest backoff ceiling, ms.
    pub backoff_cap_ms: u64,
    /// Poll interval used before the server has said one, ms.
    pub default_poll_ms: u64,
    /// Shortest server-directed interval believed, ms.
    pub min_poll_ms: u64,
    /// Longest server-directed interval believed, ms.
    pub max_poll_ms: u64,
    /// Shortest backoff, ms.
    pub min_backoff_ms: u64,
    /// A request not answered in this long counts as an error, ms.
    pub timeout_ms: u64,
    /// A parked `/s?after=` request not answered in this long counts as an error, ms.
    pub long_poll_timeout_ms: u64,
    /// An unchanged long-poll answer faster than this was not held, ms.
    pub min_hold_ms: u64,
    /// Long-poll answers in a row faster than `min_hold_ms` before pacing like plain polls.
    pub max_quick: u32,
    /// After an answer that changed the state, re-park within this long (uniform), ms: the
    /// whole hall got that answer at once and must not re-park at once.
    pub repark_spread_ms: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            jitter: 0.2,
            backoff_base_ms: 500,
            backoff_cap_ms: 8_000,
            default_poll_ms: 1_000,
            min_poll_ms: 250,
            max_poll_ms: 30_000,
            min_backoff_ms: 50,
            timeout_ms: 4_000,
            long_poll_timeout_ms: 35_000,
            min_hold_ms: 1_000,
            max_quick: 3,
            repark_spread_ms: 500,
        }
    }
}

/// Per-phone timing state: current relay, consecutive errors.
#[derive(Debug, Clone)]
pub struct Poller {
    rules: Rules,
    relays: usize,
    current: usize,
    errors: u32,
    failovers: u64,
    quick: u32,
}

impl Poller {
    /// Start on relay `first` of `relays` (≥ 1).
    pub fn new(rules: Rules, relays: usize, first: usize) -> Self {
        let relays = relays.max(1);
        Poller {
            rules,
            relays,
            current: first % relays,
            errors: 0,
            failovers: 0,
            quick: 0,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Index of the relay to talk to.
    pub fn relay(&self) -> usize {
        self.current
    }

    /// Times this phone switched relay.
    pub fn failovers(&self) -> u64 {
        self.failovers
    }

    /// Consecutive errors so far.
    pub fn errors(&self) -> u32 {
        self.errors
    }

    /// A request succeeded; `poll_ms` is the server's `poll` (for `/s`) if any.
    /// Returns the delay until the next `/s` poll, ms.
    pub fn handle_ok(&mut self, poll_ms: Option<u64>, rng: &mut impl Rng) -> u64 {
        self.errors = 0;
        let base = match poll_ms {
            Some(p) if p > 0 => p.clamp(self.rules.min_poll_ms, self.rules.max_poll_ms),
            _ => self.rules.default_poll_ms,
        };
        self.jittered(base, rng)
    }

    /// A good `/s` answer (200 or 304) that took `held_ms`. `long_poll`: the next request will
    /// be `/s?after=v`; `changed`: the state (version or ETag) changed or it was the first.
    /// Returns the delay until the next `/s` request, ms (0: re-park at once).
    pub fn handle_answer(
        &mut self,
        long_poll: bool,
        changed: bool,
        held_ms: u64,
        poll_ms: Option<u64>,
        rng: &mut impl Rng,
    ) -> u64 {
        self.quick = if held_ms < self.rules.min_hold_ms {
            self.quick.saturating_add(1)
        } else {
            0
        };
        if long_poll
            && (held_ms >= self.rules.min_hold_ms || (changed && self.quick < self.rules.max_quick))
        {
            self.errors = 0;
            return if changed {
                rng.random_range(0..=self.rules.repark_spread_ms)
            } else {
                0
            };
        }
        self.handle_ok(poll_ms, rng)
    }

    /// A request failed: fail over to the next relay and return the backoff delay, ms.
    pub fn handle_error(&mut self, rng: &mut impl Rng) -> u64 {
        self.errors = self.errors.saturating_add(1);
        if self.relays > 1 {
            self.current = (self.current + 1) % self.relays;
            self.failovers += 1;
        }
        let exp = self.errors.saturating_sub(1).min(20);
        let ceiling = self
            .rules
            .backoff_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.rules.backoff_cap_ms);
        let delay = (ceiling as f64 * rng.random::<f64>()) as u64;
        delay.max(self.rules.min_backoff_ms)
    }

    fn jittered(&self, base: u64, rng: &mut impl Rng) -> u64 {
        let j = self.rules.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + rng.random_range(-j..=j);
        (base as f64 * factor).round().max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ok_delay_is_within_twenty_percent() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut p = Poller::new(Rules::default(), 2, 0);
        for _ in 0..1000 {
            let d = p.handle_ok(Some(1000), &mut rng);
            assert!((800..=1200).contains(&d), "{d}");
        }
        assert_eq!(p.relay(), 0);
    }

    #[test]
    fn errors_fail_over_and_back_off_up_to_the_cap() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut p = Poller::new(Rules::default(), 2, 1);
        let d = p.handle_error(&mut rng);
        assert!((50..500).contains(&d));
        assert_eq!(p.relay(), 0);
        assert_eq!(p.failovers(), 1);
        for _ in 0..40 {
            assert!(p.handle_error(&mut rng) < 8000);
        }
        p.handle_ok(None, &mut rng);
        assert_eq!(p.errors(), 0);
    }

    #[test]
    fn long_poll_reparks_at_once_but_never_spins() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut p = Poller::new(Rules::default(), 1, 0);
        let spread = 0..=Rules::default().repark_spread_ms;
        // First answer (plain /s, quick, new): park within the spread.
        assert!(spread.contains(&p.handle_answer(true, true, 3, Some(1000), &mut rng)));
        // Held 30 s, unchanged: re-park at once.
        assert_eq!(
            p.handle_answer(true, false, 30_000, Some(1000), &mut rng),
            0
        );
        // Held until a change: re-park within the spread; the GO right after: the same.
        assert!(spread.contains(&p.handle_answer(true, true, 12_000, Some(1000), &mut rng)));
        assert!(spread.contains(&p.handle_answer(true, true, 2, Some(1000), &mut rng)));
        // An unchanged answer not held (a cache): the plain pace.
        let d = p.handle_answer(true, false, 2, Some(1000), &mut rng);
        assert!((800..=1200).contains(&d), "{d}");
        // New versions at once, again and again: paced after a few.
        let ds: Vec<u64> = (0..5)
            .map(|_| p.handle_answer(true, true, 2, Some(1000), &mut rng))
            .collect();
        assert!(ds[2..].iter().all(|d| (800..=1200).contains(d)), "{ds:?}");
        // A relay without `v`: the plain pace.
        let d = p.handle_answer(false, true, 30_000, Some(500), &mut rng);
        assert!((400..=600).contains(&d), "{d}");
    }

    #[test]
    fn single_relay_never_switches() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut p = Poller::new(Rules::default(), 1, 5);
        p.handle_error(&mut rng);
        assert_eq!((p.relay(), p.failovers()), (0, 0));
    }

    proptest! {
        #[test]
        fn backoff_never_exceeds_cap(seed: u64, n in 1usize..100) {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut p = Poller::new(Rules::default(), 3, 0);
            for _ in 0..n {
                prop_assert!(p.handle_error(&mut rng) <= Rules::default().backoff_cap_ms);
                prop_assert!(p.relay() < 3);
            }
        }
    }
}
