//! Connection caps shared by the HTTP and HTTPS listeners: a global cap that protects the box
//! (further connections wait in the kernel backlog) and a per-source-address cap sized for
//! phones (a browser opens at most 6 connections per host), so one greedy or hostile address
//! cannot lock every other phone out. Addresses on the exemption list (a cache or proxy in
//! front) have no per-address cap.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The caps and the open-connection count of every address.
#[derive(Debug)]
pub struct ConnectionCaps {
    global: Arc<Semaphore>,
    per_address: u32,
    exempt: HashSet<IpAddr>,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One admitted connection's place under the caps; dropping it frees the place.
#[derive(Debug)]
pub struct Admitted {
    _global: OwnedSemaphorePermit,
    address: Option<(Arc<ConnectionCaps>, IpAddr)>,
}

impl ConnectionCaps {
    /// `max_connections` in total, `per_address` from one address except `exempt` ones.
    pub fn new(max_connections: usize, per_address: usize, exempt: &[IpAddr]) -> Arc<Self> {
        Arc::new(Self {
            global: Arc::new(Semaphore::new(max_connections.max(1))),
            per_address: u32::try_from(per_address.max(1)).unwrap_or(u32::MAX),
            exempt: exempt.iter().map(|ip| ip.to_canonical()).collect(),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for a place under the global cap (call before `accept`, so connections beyond it
    /// stay in the kernel backlog). `None` if the caps were closed.
    pub async fn reserve(&self) -> Option<OwnedSemaphorePermit> {
        self.global.clone().acquire_owned().await.ok()
    }

    /// Admits a connection from `ip` holding `permit`, or `None` when `ip` holds its cap
    /// already (the caller closes the connection at once).
    pub fn admit(self: &Arc<Self>, permit: OwnedSemaphorePermit, ip: IpAddr) -> Option<Admitted> {
        let ip = ip.to_canonical();
        if self.exempt.contains(&ip) {
            return Some(Admitted {
                _global: permit,
                address: None,
            });
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.per_address {
            return None;
        }
        *n += 1;
        Some(Admitted {
            _global: permit,
            address: Some((self.clone(), ip)),
        })
    }

    /// Connections open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((caps, ip)) = &self.address {
            let mut open = caps.open.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = open.get_mut(ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn per_address_cap_and_exemptions() {
        let a: IpAddr = "10.0.0.5".parse().unwrap();
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let caps = ConnectionCaps::new(100, 2, &[proxy]);
        let first = caps.admit(caps.reserve().await.unwrap(), a).unwrap();
        let _second = caps.admit(caps.reserve().await.unwrap(), a).unwrap();
        assert!(caps.admit(caps.reserve().await.unwrap(), a).is_none());
        // IPv4-mapped IPv6 is the same address.
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert!(caps.admit(caps.reserve().await.unwrap(), mapped).is_none());
        drop(first);
        assert_eq!(caps.open_from(a), 1);
        assert!(caps.admit(caps.reserve().await.unwrap(), a).is_some());
        let held: Vec<_> = (0..10)
            .map(|_| caps.admit(caps.global.clone().try_acquire_owned().unwrap(), proxy))
            .collect();
        assert!(held.iter().all(Option::is_some));
        assert_eq!(caps.open_from(proxy), 0);
    }
}
