//! Gateway discovery (MQTT-SN 1.2 §6.1): ADVERTISE, GWINFO, and the limit
//! that keeps GWINFO from being an amplifier. Pure: time is passed in.
//!
//! SEARCHGW needs no connection and its source address is not checked, so a
//! flood of spoofed SEARCHGW would make the gateway send GWINFO to a victim.
//! GWINFO is no larger than SEARCHGW, but the count is bounded too: a token
//! bucket over the whole link (per-source buckets would not help against
//! spoofed sources), with a burst large enough for a house of nodes booting
//! together after a power cut.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::protocol::mqttsn::{Advertise, GwInfo, Message};

/// GWINFO answers sent back to back before the limit applies.
pub const GWINFO_BURST: u32 = 10;

/// One more GWINFO is allowed per this much time.
pub const GWINFO_REFILL: Duration = Duration::from_millis(200);

/// The ADVERTISE sent every `interval` (its Duration field says when the next comes).
pub fn advertise(gw_id: u8, interval: Duration) -> Message {
    Message::Advertise(Advertise {
        gw_id,
        duration: u16::try_from(interval.as_secs()).unwrap_or(u16::MAX),
    })
}

/// The answer to SEARCHGW, from the gateway itself (no GwAdd, §5.4.3).
pub fn gwinfo(gw_id: u8) -> Message {
    Message::GwInfo(GwInfo {
        gw_id,
        gw_add: Bytes::new(),
    })
}

/// A token bucket for GWINFO answers.
#[derive(Debug, Clone)]
pub struct GwInfoLimit {
    tokens: u32,
    refilled_at: Instant,
}

impl GwInfoLimit {
    /// A full bucket.
    pub fn new(now: Instant) -> Self {
        Self {
            tokens: GWINFO_BURST,
            refilled_at: now,
        }
    }

    /// True when a GWINFO may be sent now (and takes a token).
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let earned = elapsed.as_millis() / GWINFO_REFILL.as_millis();
        match u32::try_from(earned) {
            Ok(earned) if earned < GWINFO_BURST => {
                self.tokens = (self.tokens + earned).min(GWINFO_BURST);
                // Only whole periods are spent, so a steady trickle is not rounded away.
                self.refilled_at += GWINFO_REFILL * earned;
            }
            _ => {
                self.tokens = GWINFO_BURST;
                self.refilled_at = now;
            }
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_answered_then_one_per_refill_period() {
        let t0 = Instant::now();
        let mut limit = GwInfoLimit::new(t0);
        let answered = (0..100).filter(|_| limit.allow(t0)).count();
        assert_eq!(answered, GWINFO_BURST as usize);
        assert!(!limit.allow(t0 + GWINFO_REFILL / 2));
        assert!(limit.allow(t0 + GWINFO_REFILL));
        assert!(!limit.allow(t0 + GWINFO_REFILL));
        // A flood over ten seconds gets at most burst + 10 s / refill answers.
        let mut limit = GwInfoLimit::new(t0);
        let answered = (0..10_000)
            .filter(|i| limit.allow(t0 + Duration::from_millis(*i)))
            .count();
        assert!(answered <= GWINFO_BURST as usize + 50, "{answered}");
        assert!(answered >= 50, "{answered}");
    }

    #[test]
    fn advertise_and_gwinfo_carry_the_gateway_id() {
        assert_eq!(
            advertise(7, Duration::from_secs(900)),
            Message::Advertise(Advertise {
                gw_id: 7,
                duration: 900
            })
        );
        assert_eq!(
            gwinfo(7),
            Message::GwInfo(GwInfo {
                gw_id: 7,
                gw_add: Bytes::new()
            })
        );
    }
}
