//! A member's client-connection budget (SPEC.md §7.3), shared in shape by HTTP and QUIC: a
//! total cap and a cap per client address (IPv4 address, IPv6 /64), both far below the
//! process's descriptor limit so storage and p2p always find descriptors.
//!
//! When the total is reached, a new connection from an address under its own cap takes the
//! place of the longest-open *idle* connection (one with no request in flight): a crowd of
//! addresses holding idle or slow-header sockets cannot lock other clients out, and a
//! connection doing work is never cut for a newcomer. An evicted connection still holds its
//! socket until its task closes it, so evictions in progress are bounded too: at most
//! [`closing_slack`] of them, and sockets never exceed `total + closing_slack(total)`. Pure
//! state: the listener applies the eviction it is told about.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The connection caps of one transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub total: usize,
    pub per_address: usize,
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this address holds its maximum of connections")]
    AddressFull,
    #[error("every connection slot is busy with a request")]
    Full,
}

/// The address a cap counts against: an IPv4 address, or an IPv6 /64 (one host's usual
/// allocation; counting single IPv6 addresses would give one host 2^64 budgets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddressKey(u128);

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(u32::from(v4) as u128),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(u32::from(v4) as u128),
                None => Self((u128::from(v6) >> 64 << 64) | (1 << 127) | 1),
            },
        }
    }
}

/// Evictions that may be in progress at once beside `total` live connections.
pub fn closing_slack(total: usize) -> usize {
    (total / 16).max(1)
}

/// One open connection as the table sees it.
struct Slot {
    key: AddressKey,
    /// Evicted: told to close, no longer counted against its address or the live total.
    closing: bool,
    /// Requests in flight (0: idle, or still sending its request head).
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    /// Open connections by admission order (ids increase), so the first idle one found is
    /// the longest open.
    open: BTreeMap<u64, Slot>,
    /// Of `open`, the ones evicted and not yet closed.
    closing: usize,
    per_address: HashMap<AddressKey, usize>,
    next_id: u64,
}

impl Table {
    fn release_address(&mut self, key: AddressKey) {
        if let Some(c) = self.per_address.get_mut(&key) {
            *c -= 1;
            if *c == 0 {
                self.per_address.remove(&key);
            }
        }
    }
}

/// The open connections of one listener.
pub struct Budget {
    caps: Caps,
    table: Mutex<Table>,
}

/// A connection's place in the budget; dropping it frees the place.
pub struct Permit {
    budget: Arc<Budget>,
    id: u64,
    /// Count of requests in flight, kept by the connection's service.
    busy: Arc<AtomicUsize>,
    /// Notified when the budget evicts this connection: finish in-flight requests, then close.
    pub close: Arc<Notify>,
}

impl Permit {
    /// Marks a request in flight on this connection until the returned guard drops, so the
    /// budget never evicts a connection with work under way.
    pub fn request(&self) -> InFlight {
        self.busy.fetch_add(1, Ordering::AcqRel);
        InFlight(self.busy.clone())
    }
}

/// A request in flight on a connection (see [`Permit::request`]).
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut t = self.budget.table.lock().expect("budget lock");
        if let Some(slot) = t.open.remove(&self.id) {
            if slot.closing {
                t.closing -= 1;
            } else {
                t.release_address(slot.key);
            }
        }
    }
}

impl Budget {
    pub fn new(caps: Caps) -> Arc<Self> {
        Arc::new(Self {
            caps,
            table: Mutex::default(),
        })
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }

    /// Live connections (open and not evicted).
    pub fn open(&self) -> usize {
        let t = self.table.lock().expect("budget lock");
        t.open.len() - t.closing
    }

    /// Sockets held, evicted ones still closing included (at most `total +
    /// closing_slack(total)`).
    pub fn sockets(&self) -> usize {
        self.table.lock().expect("budget lock").open.len()
    }

    /// Admits a connection from `ip`, evicting the longest-open idle connection if the live
    /// total is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refused> {
        let key = AddressKey::from(ip);
        let mut t = self.table.lock().expect("budget lock");
        if t.per_address.get(&key).copied().unwrap_or(0) >= self.caps.per_address {
            return Err(Refused::AddressFull);
        }
        if t.open.len() - t.closing >= self.caps.total {
            if t.closing >= closing_slack(self.caps.total) {
                return Err(Refused::Full);
            }
            let idle = t
                .open
                .iter()
                .find(|(_, s)| !s.closing && s.busy.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)
                .ok_or(Refused::Full)?;
            let slot = t.open.get_mut(&idle).expect("found");
            slot.closing = true;
            slot.close.notify_one();
            let key = slot.key;
            t.closing += 1;
            t.release_address(key);
        }
        let id = t.next_id;
        t.next_id += 1;
        let busy = Arc::new(AtomicUsize::new(0));
        let close = Arc::new(Notify::new());
        t.open.insert(
            id,
            Slot {
                key,
                closing: false,
                busy: busy.clone(),
                close: close.clone(),
            },
        );
        *t.per_address.entry(key).or_default() += 1;
        Ok(Permit {
            budget: self.clone(),
            id,
            busy,
            close,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    #[test]
    fn one_address_cannot_take_more_than_its_cap() {
        let b = Budget::new(Caps {
            total: 10,
            per_address: 2,
        });
        let _a = b.admit(v4(1)).unwrap();
        let _b = b.admit(v4(1)).unwrap();
        assert_eq!(b.admit(v4(1)).err(), Some(Refused::AddressFull));
        // another address is unaffected
        let _c = b.admit(v4(2)).unwrap();
        assert_eq!(b.open(), 3);
    }

    #[test]
    fn a_dropped_permit_frees_its_place() {
        let b = Budget::new(Caps {
            total: 1,
            per_address: 1,
        });
        let p = b.admit(v4(1)).unwrap();
        p.busy.store(1, Ordering::Release);
        assert_eq!(b.admit(v4(1)).err(), Some(Refused::AddressFull));
        drop(p);
        assert!(b.admit(v4(1)).is_ok());
    }

    #[test]
    fn at_the_total_the_longest_open_idle_connection_makes_room() {
        let b = Budget::new(Caps {
            total: 3,
            per_address: 3,
        });
        let first = b.admit(v4(1)).unwrap();
        let second = b.admit(v4(2)).unwrap();
        let third = b.admit(v4(3)).unwrap();
        // the oldest is working: the next oldest idle one goes
        first.busy.store(1, Ordering::Release);
        let _fourth = b.admit(v4(4)).unwrap();
        assert_eq!(b.open(), 3);
        // `second` was told to close and no longer counts, here or against its address
        {
            let told = second.close.notified();
            tokio::pin!(told);
            assert!(futures::FutureExt::now_or_never(told.as_mut()).is_some());
        }
        // its socket counts until it is closed
        assert_eq!(b.sockets(), 4);
        drop(second);
        assert_eq!((b.open(), b.sockets()), (3, 3));
        drop(third);
        assert_eq!(b.open(), 2);
    }

    #[test]
    fn evictions_in_progress_are_bounded() {
        let b = Budget::new(Caps {
            total: 2,
            per_address: 8,
        });
        assert_eq!(closing_slack(2), 1);
        let _held = [b.admit(v4(1)).unwrap(), b.admit(v4(1)).unwrap()];
        // one eviction may be in progress; the next newcomer waits for it to finish
        let _third = b.admit(v4(2)).unwrap();
        assert_eq!(b.admit(v4(3)).err(), Some(Refused::Full));
        assert_eq!(b.sockets(), 3);
    }

    #[test]
    fn when_every_connection_is_busy_newcomers_are_refused() {
        let b = Budget::new(Caps {
            total: 2,
            per_address: 2,
        });
        let p = [b.admit(v4(1)).unwrap(), b.admit(v4(2)).unwrap()];
        for x in &p {
            x.busy.store(1, Ordering::Release);
        }
        assert_eq!(b.admit(v4(3)).err(), Some(Refused::Full));
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_ipv4_as_ipv4() {
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(
            AddressKey::from(IpAddr::V6(a)),
            AddressKey::from(IpAddr::V6(b))
        );
        assert_ne!(
            AddressKey::from(IpAddr::V6(a)),
            AddressKey::from(IpAddr::V6(c))
        );
        let mapped = Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped();
        assert_eq!(
            AddressKey::from(IpAddr::V6(mapped)),
            AddressKey::from(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))
        );
        // no IPv6 prefix collides with an IPv4 address
        assert_ne!(
            AddressKey::from(IpAddr::V6("::".parse().unwrap())),
            AddressKey::from(IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)))
        );
    }
}
