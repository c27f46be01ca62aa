//! LoRa time on air (Semtech AN1200.13, "LoRa Modem Designer's Guide"), for
//! pacing a half-duplex modem's transmit queue and keeping a duty cycle.

/// The radio parameters that decide how long a packet is on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoraParams {
    /// Spreading factor, 5 to 12.
    pub sf: u8,
    /// Bandwidth in kHz: 125, 250 or 500 (others are accepted as given).
    pub bw_khz: u32,
    /// Coding rate denominator minus 4: 1 for 4/5 … 4 for 4/8.
    pub cr: u8,
    /// Preamble length in symbols.
    pub preamble: u16,
}

/// Microseconds on air for a `payload_len`-byte packet with explicit header
/// and CRC on; low data rate optimisation on when a symbol exceeds 16 ms.
pub fn airtime_us(params: &LoraParams, payload_len: usize) -> u64 {
    let sf = i64::from(params.sf.clamp(5, 12));
    let bw_hz = i64::from(params.bw_khz.max(1)) * 1000;
    let symbol_us = (1_000_000i64 << sf) / bw_hz;
    let low_rate = i64::from(symbol_us > 16_000);
    let cr = i64::from(params.cr.clamp(1, 4));
    let pl = i64::try_from(payload_len).unwrap_or(i64::MAX / 64);
    // 8·PL − 4·SF + 28 + 16·CRC − 20·IH, with CRC on and an explicit header.
    let numerator = 8 * pl - 4 * sf + 28 + 16;
    let denominator = 4 * (sf - 2 * low_rate);
    let blocks = if numerator > 0 {
        (numerator + denominator - 1) / denominator
    } else {
        0
    };
    let payload_symbols = 8 + blocks * (cr + 4);
    // Preamble: n + 4.25 symbols, in quarter symbols to stay in integers.
    let preamble_quarters = (i64::from(params.preamble) * 4 + 17) * symbol_us / 4;
    u64::try_from(preamble_quarters + payload_symbols * symbol_us).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_semtech_calculator() {
        // SF7, 125 kHz, 4/5, preamble 8, 11-byte payload: 41.2 ms (Semtech calculator: 41.22 ms).
        let p = LoraParams {
            sf: 7,
            bw_khz: 125,
            cr: 1,
            preamble: 8,
        };
        let us = airtime_us(&p, 11);
        assert!((41_000..41_500).contains(&us), "{us}");
        // SF12, same: 35.25 symbols of 32.768 ms = 1155.1 ms, with low data rate optimisation.
        let p = LoraParams { sf: 12, ..p };
        let us = airtime_us(&p, 11);
        assert!((1_150_000..1_160_000).contains(&us), "{us}");
    }
}
