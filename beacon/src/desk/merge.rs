//! Sources and their merge, per E1.31-2018: a source is gone after [`SOURCE_TIMEOUT_US`]
//! without data (network data loss) or at once when it sets stream-terminated; a packet whose
//! sequence number is behind the last one by 0–19 is discarded; the highest priority among
//! live sources wins. Sources at the same (highest) priority merge HTP: each slot takes the
//! highest value any of them sends (what most receivers and wristband systems do; the newest
//! source does not override an older one). Art-Net sources carry a fixed configured priority.

use std::net::IpAddr;

use super::frame::{DmxFrame, Protocol, Refusal, SourceId, UNIVERSE_SLOTS};

/// E1.31 network data loss timeout, µs.
pub const SOURCE_TIMEOUT_US: u64 = 2_500_000;
/// Most sources tracked at once (live or recently gone, for status); a hostile network
/// cannot grow the table beyond this.
pub const MAX_SOURCES: usize = 16;

/// One source as status shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceStatus {
    /// sACN source name (Art-Net: `artnet <address>`).
    pub name: String,
    /// sACN CID as a UUID string; null for Art-Net.
    pub cid: Option<String>,
    /// `sacn` or `artnet`.
    pub protocol: Protocol,
    /// Sender address.
    pub address: String,
    /// Universe (sACN) or port-address (Art-Net).
    pub universe: u16,
    /// Priority of its last packet.
    pub priority: u8,
    /// Packets applied.
    pub accepted: u64,
    /// Packets discarded (out of sequence).
    pub refused: u64,
    /// Milliseconds since its last packet.
    pub last_seen_ms: u64,
    /// Whether it still takes part in the merge (not timed out, not terminated).
    pub live: bool,
    /// Whether it is among the sources that win the merge now (highest priority).
    pub winning: bool,
}

#[derive(Debug, Clone)]
struct Source {
    id: SourceId,
    protocol: Protocol,
    name: String,
    address: IpAddr,
    universe: u16,
    priority: u8,
    last_sequence: u8,
    last_seen_us: u64,
    slots: [u8; UNIVERSE_SLOTS],
    accepted: u64,
    refused: u64,
    live: bool,
}

/// The sources of one input and their merged levels.
#[derive(Debug, Default)]
pub struct Merge {
    sources: Vec<Source>,
}

impl Merge {
    /// Applies one frame received at `now_us` from `address`.
    pub fn handle_frame(
        &mut self,
        now_us: u64,
        address: IpAddr,
        frame: DmxFrame,
    ) -> Result<(), Refusal> {
        let index = match self.sources.iter().position(|s| s.id == frame.source) {
            Some(i) => i,
            None => {
                if frame.terminated {
                    return Ok(());
                }
                if self.sources.len() >= MAX_SOURCES {
                    // Forget the longest-gone source, if any is gone.
                    let gone = self
                        .sources
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| !s.live)
                        .min_by_key(|(_, s)| s.last_seen_us)
                        .map(|(i, _)| i)
                        .ok_or(Refusal::TooManySources)?;
                    self.sources.remove(gone);
                }
                self.sources.push(Source {
                    id: frame.source,
                    protocol: frame.protocol,
                    name: frame.name.clone(),
                    address,
                    universe: frame.universe,
                    priority: frame.priority,
                    last_sequence: frame.sequence,
                    last_seen_us: now_us,
                    slots: [0; UNIVERSE_SLOTS],
                    accepted: 0,
                    refused: 0,
                    live: false,
                });
                self.sources.len() - 1
            }
        };
        let source = &mut self.sources[index];
        // Art-Net sequence 0 means "not sequenced"; a source coming back starts afresh.
        let sequenced = frame.protocol == Protocol::Sacn || frame.sequence != 0;
        if source.live && sequenced && out_of_sequence(source.last_sequence, frame.sequence) {
            source.refused += 1;
            return Err(Refusal::Sequence);
        }
        source.last_sequence = frame.sequence;
        source.last_seen_us = now_us;
        source.accepted += 1;
        source.name = frame.name;
        source.address = address;
        source.priority = frame.priority;
        if frame.terminated {
            source.live = false;
            return Ok(());
        }
        source.live = true;
        // A short frame leaves the slots after it at 0 (E1.31: missing slots are 0).
        source.slots = [0; UNIVERSE_SLOTS];
        source.slots[..frame.slots.len()].copy_from_slice(&frame.slots);
        Ok(())
    }

    /// Ends sources silent for [`SOURCE_TIMEOUT_US`]; true if one ended.
    pub fn handle_timeout(&mut self, now_us: u64) -> bool {
        let mut ended = false;
        for s in &mut self.sources {
            if s.live && now_us.saturating_sub(s.last_seen_us) >= SOURCE_TIMEOUT_US {
                s.live = false;
                ended = true;
                tracing::info!(source = %s.name, address = %s.address, "desk source lost (2.5 s without data)");
            }
        }
        ended
    }

    /// When the next live source times out.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.sources
            .iter()
            .filter(|s| s.live)
            .map(|s| s.last_seen_us.saturating_add(SOURCE_TIMEOUT_US))
            .min()
    }

    /// The highest priority among live sources.
    fn top_priority(&self) -> Option<u8> {
        self.sources
            .iter()
            .filter(|s| s.live)
            .map(|s| s.priority)
            .max()
    }

    /// The merged universe: HTP over the live sources at the highest priority; `None` when no
    /// source is live.
    pub fn merged(&self) -> Option<[u8; UNIVERSE_SLOTS]> {
        let top = self.top_priority()?;
        let mut out = [0u8; UNIVERSE_SLOTS];
        for s in self.sources.iter().filter(|s| s.live && s.priority == top) {
            for (o, v) in out.iter_mut().zip(s.slots.iter()) {
                *o = (*o).max(*v);
            }
        }
        Some(out)
    }

    /// Every tracked source at `now_us`.
    pub fn status(&self, now_us: u64) -> Vec<SourceStatus> {
        let top = self.top_priority();
        self.sources
            .iter()
            .map(|s| SourceStatus {
                name: if s.name.is_empty() {
                    format!("{} {}", s.protocol.name(), s.address)
                } else {
                    s.name.clone()
                },
                cid: match s.id {
                    SourceId::Cid(cid) => Some(uuid_text(&cid)),
                    SourceId::Address(_) => None,
                },
                protocol: s.protocol,
                address: s.address.to_string(),
                universe: s.universe,
                priority: s.priority,
                accepted: s.accepted,
                refused: s.refused,
                last_seen_ms: now_us.saturating_sub(s.last_seen_us) / 1000,
                live: s.live,
                winning: s.live && Some(s.priority) == top,
            })
            .collect()
    }
}

/// E1.31-2018 §6.7.2: discard when −20 < new − last ≤ 0 (mod 256).
pub fn out_of_sequence(last: u8, new: u8) -> bool {
    let d = new.wrapping_sub(last) as i8;
    d <= 0 && d > -20
}

fn uuid_text(b: &[u8; 16]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

    fn frame(cid: u8, priority: u8, seq: u8, slots: &[u8]) -> DmxFrame {
        DmxFrame {
            protocol: Protocol::Sacn,
            source: SourceId::Cid([cid; 16]),
            name: format!("desk {cid}"),
            priority,
            sequence: seq,
            terminated: false,
            universe: 1,
            slots: slots.to_vec(),
        }
    }

    #[test]
    fn sequence_rule() {
        assert!(out_of_sequence(10, 10));
        assert!(out_of_sequence(10, 9));
        assert!(out_of_sequence(10, 247)); // 247 − 10 = −19 mod 256
        assert!(!out_of_sequence(10, 246)); // −20: a restart, accepted
        assert!(!out_of_sequence(10, 11));
        assert!(!out_of_sequence(255, 0));
    }

    #[test]
    fn higher_priority_wins_same_priority_merges_htp() {
        let mut m = Merge::default();
        m.handle_frame(0, A, frame(1, 100, 1, &[200, 0, 10]))
            .unwrap();
        m.handle_frame(0, A, frame(2, 150, 1, &[0, 50, 0])).unwrap();
        assert_eq!(m.merged().unwrap()[..3], [0, 50, 0]);
        m.handle_frame(0, A, frame(3, 150, 1, &[0, 20, 30]))
            .unwrap();
        assert_eq!(m.merged().unwrap()[..3], [0, 50, 30]);
        let st = m.status(0);
        assert_eq!(st.iter().filter(|s| s.winning).count(), 2);
    }

    #[test]
    fn timeout_and_termination_release() {
        let mut m = Merge::default();
        m.handle_frame(0, A, frame(1, 100, 1, &[9])).unwrap();
        m.handle_frame(0, A, frame(2, 120, 1, &[7])).unwrap();
        assert_eq!(m.poll_timeout(), Some(SOURCE_TIMEOUT_US));
        let mut end = frame(2, 120, 2, &[7]);
        end.terminated = true;
        m.handle_frame(1000, A, end).unwrap();
        assert_eq!(
            m.merged().unwrap()[0],
            9,
            "back to the lower priority at once"
        );
        assert!(!m.handle_timeout(SOURCE_TIMEOUT_US - 1));
        assert!(m.handle_timeout(SOURCE_TIMEOUT_US));
        assert_eq!(m.merged(), None);
        assert_eq!(m.poll_timeout(), None);
        // It comes back with any sequence number.
        m.handle_frame(SOURCE_TIMEOUT_US + 1, A, frame(1, 100, 0, &[3]))
            .unwrap();
        assert_eq!(m.merged().unwrap()[0], 3);
    }

    #[test]
    fn stale_sequence_is_refused_and_counted() {
        let mut m = Merge::default();
        m.handle_frame(0, A, frame(1, 100, 50, &[1])).unwrap();
        assert_eq!(
            m.handle_frame(1, A, frame(1, 100, 49, &[2])),
            Err(Refusal::Sequence)
        );
        assert_eq!(m.merged().unwrap()[0], 1);
        assert_eq!((m.status(1)[0].accepted, m.status(1)[0].refused), (1, 1));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut m = Merge::default();
        for cid in 0..MAX_SOURCES as u8 {
            m.handle_frame(0, A, frame(cid, 100, 1, &[1])).unwrap();
        }
        assert_eq!(
            m.handle_frame(0, A, frame(99, 100, 1, &[1])),
            Err(Refusal::TooManySources)
        );
        m.handle_timeout(SOURCE_TIMEOUT_US);
        m.handle_frame(SOURCE_TIMEOUT_US, A, frame(99, 100, 1, &[1]))
            .unwrap();
        assert_eq!(m.status(0).len(), MAX_SOURCES);
    }
}
