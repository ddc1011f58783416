//! Per-source-address limits for the captive DNS, so one flooder or one greedy client cannot
//! crowd out the rest: a token bucket per address for UDP queries ([`RateLimiter`], a
//! fixed-size table, so memory stays bounded under spoofed-source floods) and a count of open
//! TCP connections per address ([`PerAddress`]). Sans-IO: `now` is passed in.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Slots in the rate table. A source whose slot holds another address takes it over with a
/// full bucket: a spoofed flood cannot grow memory, and at worst earns each colliding source
/// one fresh burst.
pub const RATE_SLOTS: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    ip: Option<IpAddr>,
    tokens: f64,
    last: Instant,
}

/// Token buckets per source address in a fixed table (keyed by a randomly seeded hash, so
/// colliding addresses cannot be chosen from outside).
#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens added per second; 0 = no limit.
    rate: f64,
    /// Bucket size.
    burst: f64,
    exempt: Vec<IpAddr>,
    hasher: std::collections::hash_map::RandomState,
    slots: Box<[Mutex<Bucket>]>,
}

impl RateLimiter {
    /// `rate` queries per second per address with bursts of `2 × rate`; `exempt` addresses
    /// are never limited.
    pub fn new(rate: u32, exempt: Vec<IpAddr>, now: Instant) -> Self {
        let rate = f64::from(rate);
        let empty = Bucket {
            ip: None,
            tokens: 0.0,
            last: now,
        };
        Self {
            rate,
            burst: 2.0 * rate,
            exempt,
            hasher: Default::default(),
            slots: (0..RATE_SLOTS).map(|_| Mutex::new(empty)).collect(),
        }
    }

    /// Takes one token for `ip` at `now`; false = over its rate (drop the query).
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if self.rate <= 0.0 || self.exempt.contains(&ip) {
            return true;
        }
        let slot = self.hasher.hash_one(ip) as usize % self.slots.len();
        let Ok(mut b) = self.slots[slot].lock() else {
            return true;
        };
        if b.ip != Some(ip) {
            *b = Bucket {
                ip: Some(ip),
                tokens: self.burst,
                last: now,
            };
        } else {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
            b.last = now;
        }
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Open connections per source address, capped. Entries are removed when they reach zero,
/// so the map never holds more addresses than there are open connections.
#[derive(Debug)]
pub struct PerAddress {
    max: usize,
    exempt: Vec<IpAddr>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct AddressSlot {
    owner: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// At most `max` connections per address; `exempt` addresses are not counted.
    pub fn new(max: usize, exempt: Vec<IpAddr>) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            exempt,
            open: Mutex::default(),
        })
    }

    /// A slot for one more connection from `ip`, or `None` when it holds `max` already.
    /// Exempt addresses get a slot that counts nothing.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Option<AddressSlot>> {
        if self.exempt.contains(&ip) {
            return Some(None);
        }
        let mut open = self.open.lock().ok()?;
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Some(AddressSlot {
            owner: self.clone(),
            ip,
        }))
    }

    /// Connections currently counted for `ip`.
    pub fn open(&self, ip: IpAddr) -> usize {
        self.open
            .lock()
            .map_or(0, |m| m.get(&ip).copied().unwrap_or(0))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.owner.open.lock()
            && let Some(n) = open.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 1, last])
    }

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let l = RateLimiter::new(10, vec![ip(9)], t0);
        let allowed = (0..100).filter(|_| l.allow(ip(1), t0)).count();
        assert_eq!(allowed, 20);
        assert!(l.allow(ip(2), t0), "another address is unaffected");
        assert!((0..1000).all(|_| l.allow(ip(9), t0)), "exempt");
        let later = t0 + Duration::from_millis(500);
        assert_eq!((0..100).filter(|_| l.allow(ip(1), later)).count(), 5);
        assert!(RateLimiter::new(0, vec![], t0).allow(ip(1), t0));
    }

    #[test]
    fn table_size_is_fixed_under_many_sources() {
        let t0 = Instant::now();
        let l = RateLimiter::new(1, vec![], t0);
        for i in 0..100_000u32 {
            assert!(l.allow(IpAddr::from(i.to_be_bytes()), t0));
        }
        assert_eq!(l.slots.len(), RATE_SLOTS);
    }

    #[test]
    fn per_address_cap_frees_on_drop() {
        let p = PerAddress::new(2, vec![ip(9)]);
        let a = p.try_acquire(ip(1)).unwrap();
        let _b = p.try_acquire(ip(1)).unwrap();
        assert!(p.try_acquire(ip(1)).is_none());
        assert!(p.try_acquire(ip(2)).is_some());
        assert!((0..10).all(|_| p.try_acquire(ip(9)).is_some()));
        drop(a);
        assert_eq!(p.open(ip(1)), 1);
        assert!(p.try_acquire(ip(1)).is_some());
        assert_eq!(p.open(ip(2)), 0);
    }
}
