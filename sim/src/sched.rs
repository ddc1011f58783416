//! The impairment scheduler: given when a chunk (TCP) or datagram (UDP) arrives, how long it is
//! and a seeded RNG, decide when it is released on the far side, or that it is dropped.
//!
//! Sans-IO: times are plain microseconds on the caller's clock (`now_us`); the proxy in
//! [`crate::proxy`] feeds real arrivals in and sleeps until the release times that come out.
//!
//! Model, per direction of one connection (or one UDP flow):
//! - **bandwidth**: a single link of `rate_bps`; a unit waits for the link to be free, then takes
//!   `len * 8 / rate` to serialise (FIFO queue). Datagrams that would wait longer than
//!   `queue_limit_us` are tail-dropped; streams are never dropped (TCP backpressure).
//! - **delay + jitter**: one-way delay sampled per unit. [`JitterDist::Exp`] (default) is a
//!   floor of `delay - jitter` plus an exponential tail of mean `jitter` (mean `delay`, standard
//!   deviation `jitter`: "100 ms ± 50 ms" as mean ± sd, the long-tailed shape of WiFi
//!   contention); [`JitterDist::Uniform`] is uniform in `delay ± jitter`.
//! - **loss**: datagrams are dropped with probability `loss`. A TCP stream cannot lose bytes,
//!   so for [`Mode::Stream`] a "lost" chunk is delivered late instead: one retransmission
//!   timeout (`rto_us`, doubled for each further loss of the same chunk, at most 5 times) plus a
//!   fresh one-way delay, and chunks stay in order, so later chunks queue behind it
//!   (head-of-line blocking, as with a real TCP retransmission).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Shape of the jitter around the mean one-way delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterDist {
    /// `delay - jitter` plus an exponential tail with mean `jitter` (mean `delay`, sd `jitter`).
    Exp,
    /// Uniform in `[delay - jitter, delay + jitter]`.
    Uniform,
}

/// The impairment settings of one direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairment {
    /// Mean one-way delay, µs.
    pub delay_us: u64,
    /// Jitter, µs (see [`JitterDist`]).
    pub jitter_us: u64,
    /// Jitter distribution.
    pub dist: JitterDist,
    /// Loss probability per unit, `0.0..=1.0`.
    pub loss: f64,
    /// Link rate in bits per second; `None` is unlimited.
    pub rate_bps: Option<u64>,
    /// Retransmission penalty for a "lost" stream chunk, µs.
    pub rto_us: u64,
    /// Longest queueing wait before a datagram is tail-dropped, µs.
    pub queue_limit_us: u64,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            delay_us: 0,
            jitter_us: 0,
            dist: JitterDist::Exp,
            loss: 0.0,
            rate_bps: None,
            rto_us: 200_000,
            queue_limit_us: 500_000,
        }
    }
}

/// What is being scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// TCP byte stream: ordered, never dropped.
    Stream,
    /// UDP datagrams: independent, may be dropped or reordered.
    Datagram,
}

/// The decision for one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Deliver at this time (µs, caller's clock); never earlier than the arrival.
    Release(u64),
    /// Drop it.
    Drop,
}

/// Counters of one scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Units seen.
    pub units: u64,
    /// Bytes seen.
    pub bytes: u64,
    /// Datagrams dropped (loss or full queue).
    pub dropped: u64,
    /// Stream chunks that took a retransmission penalty.
    pub retransmitted: u64,
}

/// The scheduler of one direction of one connection or flow.
#[derive(Debug)]
pub struct Scheduler {
    imp: Impairment,
    mode: Mode,
    rng: StdRng,
    link_free_us: u64,
    last_release_us: u64,
    counters: Counters,
}

impl Scheduler {
    /// A scheduler with its own RNG stream.
    pub fn new(imp: Impairment, mode: Mode, seed: u64) -> Self {
        Scheduler {
            imp,
            mode,
            rng: StdRng::seed_from_u64(seed),
            link_free_us: 0,
            last_release_us: 0,
            counters: Counters::default(),
        }
    }

    /// A unit of `len` bytes arrived at `now_us`: when does it leave?
    pub fn handle_arrival(&mut self, now_us: u64, len: usize) -> Verdict {
        self.counters.units += 1;
        self.counters.bytes += len as u64;
        let start = now_us.max(self.link_free_us);
        if self.mode == Mode::Datagram && start - now_us > self.imp.queue_limit_us {
            self.counters.dropped += 1;
            return Verdict::Drop;
        }
        let sent = start + self.serialisation_us(len);
        self.link_free_us = sent;
        match self.mode {
            Mode::Datagram => {
                if self.lost() {
                    self.counters.dropped += 1;
                    return Verdict::Drop;
                }
                Verdict::Release(sent + self.sample_delay())
            }
            Mode::Stream => {
                let mut at = sent + self.sample_delay();
                let mut rto = self.imp.rto_us;
                let mut losses = 0;
                while losses < 5 && self.lost() {
                    losses += 1;
                    at += rto + self.sample_delay();
                    rto = rto.saturating_mul(2);
                }
                if losses > 0 {
                    self.counters.retransmitted += 1;
                }
                let at = at.max(self.last_release_us);
                self.last_release_us = at;
                Verdict::Release(at)
            }
        }
    }

    /// This scheduler's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    fn serialisation_us(&self, len: usize) -> u64 {
        match self.imp.rate_bps {
            Some(rate) if rate > 0 => (len as u64 * 8 * 1_000_000).div_ceil(rate),
            _ => 0,
        }
    }

    fn lost(&mut self) -> bool {
        self.imp.loss > 0.0 && self.rng.random::<f64>() < self.imp.loss
    }

    /// One one-way delay sample, µs.
    fn sample_delay(&mut self) -> u64 {
        let (d, j) = (self.imp.delay_us as f64, self.imp.jitter_us as f64);
        if j == 0.0 {
            return self.imp.delay_us;
        }
        let u: f64 = self.rng.random();
        let v = match self.imp.dist {
            JitterDist::Uniform => d - j + 2.0 * j * u,
            // Inverse CDF of the exponential; `1 - u` is in (0, 1], so the log is finite.
            JitterDist::Exp => (d - j).max(0.0) - j * (1.0 - u).ln(),
        };
        v.max(0.0) as u64
    }
}

/// Derive independent seeds for each connection and direction from the one `--seed`.
pub fn derive_seed(seed: u64, flow: u64, direction: u64) -> u64 {
    // splitmix64 finaliser over a mix of the inputs.
    let mut z = seed
        .wrapping_add(flow.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(direction.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn imp(delay_ms: u64, jitter_ms: u64, loss: f64) -> Impairment {
        Impairment {
            delay_us: delay_ms * 1000,
            jitter_us: jitter_ms * 1000,
            loss,
            ..Impairment::default()
        }
    }

    fn release(v: Verdict) -> u64 {
        match v {
            Verdict::Release(t) => t,
            Verdict::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn fixed_delay_is_exact() {
        let mut s = Scheduler::new(imp(100, 0, 0.0), Mode::Datagram, 1);
        assert_eq!(s.handle_arrival(5_000, 100), Verdict::Release(105_000));
        assert_eq!(s.handle_arrival(7_000, 100), Verdict::Release(107_000));
    }

    #[test]
    fn same_seed_same_schedule_and_different_seed_differs() {
        let run = |seed| {
            let mut s = Scheduler::new(imp(100, 50, 0.05), Mode::Datagram, seed);
            (0..200)
                .map(|i| s.handle_arrival(i * 1000, 10))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn exp_jitter_has_requested_mean_and_floor() {
        let mut s = Scheduler::new(imp(100, 50, 0.0), Mode::Datagram, 3);
        let n = 20_000;
        let delays: Vec<u64> = (0..n).map(|_| release(s.handle_arrival(0, 1))).collect();
        let mean = delays.iter().sum::<u64>() as f64 / n as f64;
        assert!((mean - 100_000.0).abs() < 2_000.0, "mean {mean}");
        assert!(delays.iter().all(|&d| d >= 50_000));
    }

    #[test]
    fn uniform_jitter_stays_in_band() {
        let mut s = Scheduler::new(
            Impairment {
                dist: JitterDist::Uniform,
                ..imp(100, 50, 0.0)
            },
            Mode::Datagram,
            3,
        );
        for _ in 0..5000 {
            let d = release(s.handle_arrival(0, 1));
            assert!((50_000..=150_000).contains(&d), "{d}");
        }
    }

    #[test]
    fn datagram_loss_rate_is_close_to_setting() {
        let mut s = Scheduler::new(imp(10, 0, 0.05), Mode::Datagram, 11);
        let drops = (0..20_000)
            .filter(|&i| s.handle_arrival(i * 10_000, 1) == Verdict::Drop)
            .count();
        assert!((800..1200).contains(&drops), "{drops}");
        assert_eq!(s.counters().dropped, drops as u64);
    }

    #[test]
    fn stream_loss_is_a_retransmit_penalty_not_a_drop() {
        let mut s = Scheduler::new(imp(10, 0, 0.5), Mode::Stream, 5);
        let mut late = 0;
        for i in 0..1000 {
            let now = i * 10_000_000;
            let at = release(s.handle_arrival(now, 1));
            if at - now >= 10_000 + 200_000 + 10_000 {
                late += 1;
            }
        }
        assert!(late > 300, "{late}");
        assert_eq!(s.counters().retransmitted, late);
    }

    #[test]
    fn bandwidth_cap_serialises() {
        // 80 kbit/s: 1000 bytes take 100 ms on the link.
        let mut s = Scheduler::new(
            Impairment {
                rate_bps: Some(80_000),
                ..imp(0, 0, 0.0)
            },
            Mode::Stream,
            1,
        );
        assert_eq!(s.handle_arrival(0, 1000), Verdict::Release(100_000));
        assert_eq!(s.handle_arrival(0, 1000), Verdict::Release(200_000));
        assert_eq!(s.handle_arrival(500_000, 500), Verdict::Release(550_000));
    }

    #[test]
    fn datagram_queue_overflow_is_tail_dropped() {
        let mut s = Scheduler::new(
            Impairment {
                rate_bps: Some(8_000), // 1000 bytes = 1 s
                queue_limit_us: 1_500_000,
                ..imp(0, 0, 0.0)
            },
            Mode::Datagram,
            1,
        );
        assert_eq!(s.handle_arrival(0, 1000), Verdict::Release(1_000_000));
        assert_eq!(s.handle_arrival(0, 1000), Verdict::Release(2_000_000));
        assert_eq!(s.handle_arrival(0, 1000), Verdict::Drop);
    }

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(1, 0, 0), derive_seed(1, 0, 1));
        assert_ne!(derive_seed(1, 0, 0), derive_seed(1, 1, 0));
        assert_eq!(derive_seed(9, 3, 1), derive_seed(9, 3, 1));
    }

    proptest! {
        #[test]
        fn stream_releases_are_ordered_and_never_early(
            seed: u64,
            delay_ms in 0u64..300,
            jitter_ms in 0u64..300,
            loss in 0.0f64..0.5,
            rate in proptest::option::of(1_000u64..10_000_000),
            gaps in proptest::collection::vec((0u64..50_000, 1usize..20_000), 1..200),
        ) {
            let mut s = Scheduler::new(
                Impairment { rate_bps: rate, ..imp(delay_ms, jitter_ms, loss) },
                Mode::Stream,
                seed,
            );
            let (mut now, mut last) = (0u64, 0u64);
            for (gap, len) in gaps {
                now += gap;
                let at = release(s.handle_arrival(now, len));
                prop_assert!(at >= now);
                prop_assert!(at >= last);
                last = at;
            }
        }

        #[test]
        fn datagrams_are_never_early(
            seed: u64,
            delay_ms in 0u64..300,
            jitter_ms in 0u64..300,
            loss in 0.0f64..1.0,
            gaps in proptest::collection::vec((0u64..50_000, 1usize..2_000), 1..200),
        ) {
            let mut s = Scheduler::new(imp(delay_ms, jitter_ms, loss), Mode::Datagram, seed);
            let mut now = 0u64;
            for (gap, len) in gaps {
                now += gap;
                if let Verdict::Release(at) = s.handle_arrival(now, len) {
                    prop_assert!(at >= now);
                }
            }
        }
    }
}
