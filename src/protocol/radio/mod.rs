//! Serial radio framings, sans-IO: bytes or lines in, frames or events out;
//! frames and command lines built for the way back.
//!
//! # Layout
//!
//! ```text
//! xbee      XBee API frames, modes 1 and 2 (0x08/0x88/0x8A/0x10/0x8B/0x90)
//! slip      SLIP frames with a CRC-16/XMODEM, for the generic serial bridge
//! lines     lines from AT-command modems
//! rak3172   RAK3172 RUI3 LoRa P2P: AT+PSEND, +EVT:RXP2P (both forms), AT+P2P
//! reyax     REYAX RYLR modules: AT+SEND, +RCV (base64 or hex), +ERR codes
//! airtime   LoRa time on air, for pacing half-duplex modems
//! ```

pub mod airtime;
pub mod lines;
pub mod rak3172;
pub mod reyax;
pub mod slip;
pub mod xbee;

#[cfg(test)]
pub(crate) mod testing;
