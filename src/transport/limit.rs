//! `[limits] max_connections`, shared by every listener, and with it the
//! per-address `max_connection_rate` ([`SourceRate`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::rate::SourceRate;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts open connections against a maximum (0 = unlimited).
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    max: usize,
    open: Arc<AtomicUsize>,
    rate: Option<Arc<SourceRate>>,
}

/// One open connection; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    open: Arc<AtomicUsize>,
}

impl ConnectionLimit {
    /// A limit of `max` connections; 0 means no limit.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::new(AtomicUsize::new(0)),
            rate: None,
        }
    }

    /// The same limit, plus at most `per_second` new connections a second
    /// from one remote address (0: no rate limit).
    pub fn with_rate(self, per_second: u32) -> Self {
        Self {
            rate: SourceRate::new(per_second).map(Arc::new),
            ..self
        }
    }

    /// Whether a connection from `ip` is within the per-address rate.
    pub fn rate_allows(&self, ip: IpAddr) -> bool {
        self.rate
            .as_ref()
            .is_none_or(|rate| rate.allow(ip, Instant::now()))
    }

    /// A slot for a new connection, or `None` when the server is full.
    pub fn try_acquire(&self) -> Option<Permit> {
        let mut open = self.open.load(Ordering::Relaxed);
        loop {
            if self.max != 0 && open >= self.max {
                return None;
            }
            match self.open.compare_exchange_weak(
                open,
                open + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(Permit {
                        open: self.open.clone(),
                    });
                }
                Err(current) => open = current,
            }
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_and_returned_on_drop() {
        let limit = ConnectionLimit::new(2);
        let a = limit.try_acquire().unwrap();
        let _b = limit.try_acquire().unwrap();
        assert!(limit.try_acquire().is_none());
        drop(a);
        assert!(limit.try_acquire().is_some());
        assert_eq!(ConnectionLimit::new(0).try_acquire().map(|_| ()), Some(()));
    }
}
