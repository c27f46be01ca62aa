//! Feeds arbitrary bytes as modem output: split into lines, each line read
//! by the RAK3172 parser and the REYAX parser (both encodings). None may
//! panic; a REYAX receive report must re-encode as the same data.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wren::protocol::radio::lines::next_line;
use wren::protocol::radio::{rak3172, reyax};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let mut rak = rak3172::Parser::default();
    loop {
        let line = match next_line(&mut buf, 600) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(_) => continue,
        };
        let _ = rak.line(&line);
        for encoding in [reyax::Encoding::Base64, reyax::Encoding::Hex] {
            if let reyax::Event::Received { address, data, .. } = reyax::parse(&line, encoding) {
                if let Some(command) = reyax::send(address, &data, encoding) {
                    let report = command.replacen("AT+SEND=", "+RCV=", 1) + ",0,0";
                    assert!(matches!(
                        reyax::parse(&report, encoding),
                        reyax::Event::Received { data: back, .. } if back == data
                    ));
                }
            }
        }
    }
});
