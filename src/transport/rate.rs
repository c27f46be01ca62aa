//! `[limits] max_connection_rate`: new connections per second from one remote
//! IP address, as a token bucket per address (burst: two seconds' worth).
//!
//! Checked in the accept loops before anything else, so a host that opens
//! connections in a loop costs an accept and a close, not a TLS handshake or
//! a password check. Loopback is exempt: local bridges, tools and benchmarks
//! open many connections and are not the threat. The table is bounded: when
//! it grows past [`MAX_TRACKED`] addresses, those whose bucket has refilled
//! (idle ones) are forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use parking_lot::Mutex;

use crate::auth::is_loopback;

/// Addresses tracked before idle ones are swept.
const MAX_TRACKED: usize = 4096;

/// Per-address token buckets.
#[derive(Debug)]
pub struct SourceRate {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl SourceRate {
    /// `per_second` connections a second from one address; `None` for 0 (unlimited).
    pub fn new(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| Self {
            per_second: f64::from(per_second),
            burst: 2.0 * f64::from(per_second),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Whether a connection from `ip` arriving at `now` is within the rate.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if is_loopback(ip) {
            return true;
        }
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&ip) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| b.refilled(now, rate) < burst);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket.tokens = bucket.refilled(now, self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Bucket {
    fn refilled(&self, now: Instant, per_second: f64) -> f64 {
        self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * per_second
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_address_and_loopback_exempt() {
        let rate = SourceRate::new(2).unwrap();
        let lan: IpAddr = "192.168.1.9".parse().unwrap();
        let other: IpAddr = "192.168.1.10".parse().unwrap();
        let t0 = Instant::now();
        let allowed = (0..10).filter(|_| rate.allow(lan, t0)).count();
        assert_eq!(allowed, 4, "burst of two seconds' worth");
        assert!(rate.allow(other, t0), "addresses are counted apart");
        assert!(!rate.allow(lan, t0 + Duration::from_millis(100)));
        assert!(rate.allow(lan, t0 + Duration::from_millis(600)));
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..100).all(|_| rate.allow(lo, t0)));
        assert!(SourceRate::new(0).is_none());
    }

    #[test]
    fn the_table_stays_bounded() {
        let rate = SourceRate::new(1).unwrap();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            rate.allow(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), t0);
        }
        let later = t0 + Duration::from_secs(5);
        rate.allow("192.168.1.1".parse().unwrap(), later);
        assert!(rate.buckets.lock().len() <= 2);
    }
}
