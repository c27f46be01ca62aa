//! The server side of the WebSocket opening handshake (RFC 6455 §4.2) for MQTT:
//! which requests are accepted, with which subprotocol, and what the others get.
//!
//! MQTT 3.1.1 and 5.0 §6 name the subprotocol `mqtt`; MQTT 3.1 clients (Paho,
//! MQTT.js with protocol version 3) offer `mqttv3.1`, the Paho convention. A
//! client offering neither is accepted without a subprotocol, as Mosquitto does
//! ([MQTT-6.0.0-3] binds the client, and RFC 6455 lets a server answer without
//! one); a client offering only other subprotocols wants another protocol, and
//! is refused.

use super::http::{RequestHead, Response, Status};

/// The WebSocket version of RFC 6455, the only one browsers speak.
const VERSION: &str = "13";

/// The client offered subprotocols, none of them MQTT's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignSubprotocols;

/// The subprotocols MQTT is spoken under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subprotocol {
    /// `mqtt`: MQTT 3.1.1 and 5.0 §6.
    Mqtt,
    /// `mqttv3.1`: the Paho convention for MQTT 3.1.
    MqttV31,
}

impl Subprotocol {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Subprotocol::Mqtt => "mqtt",
            Subprotocol::MqttV31 => "mqttv3.1",
        }
    }

    /// The subprotocol to answer `offered` with: `mqtt` when offered, else
    /// `mqttv3.1`; `Ok(None)` when nothing was offered; an error when only other
    /// subprotocols were. Names are compared exactly (RFC 6455 §4.1).
    pub fn choose(offered: &[String]) -> Result<Option<Self>, ForeignSubprotocols> {
        let has = |name: &str| offered.iter().any(|o| o == name);
        if has("mqtt") {
            Ok(Some(Subprotocol::Mqtt))
        } else if has("mqttv3.1") {
            Ok(Some(Subprotocol::MqttV31))
        } else if offered.is_empty() {
            Ok(None)
        } else {
            Err(ForeignSubprotocols)
        }
    }
}

/// A request that wants a WebSocket (`Upgrade: websocket`), good or bad.
pub fn is_upgrade(head: &RequestHead) -> bool {
    head.has_token("upgrade", "websocket")
}

/// A handshake the server agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `101 Switching Protocols` to send before the first frame.
    pub response: Response,
    pub subprotocol: Option<Subprotocol>,
}

/// Answers an upgrade request: [`Accepted`], or the error response to send
/// before closing. `allowed_origins` empty allows every origin; a request
/// without `Origin` (not from a browser) is never refused for its origin.
pub fn accept(head: &RequestHead, allowed_origins: &[String]) -> Result<Accepted, Response> {
    if head.method != "GET" {
        return Err(Response::error(Status::METHOD_NOT_ALLOWED, "use GET").header("Allow", "GET"));
    }
    if !head.http11 || !head.has_token("connection", "upgrade") {
        return Err(Response::error(
            Status::BAD_REQUEST,
            "a WebSocket handshake needs HTTP/1.1 and Connection: Upgrade",
        ));
    }
    if head.header("sec-websocket-version").as_deref() != Some(VERSION) {
        return Err(
            Response::error(Status::UPGRADE_REQUIRED, "WebSocket version 13 only")
                .header("Sec-WebSocket-Version", VERSION),
        );
    }
    // RFC 6455 §4.1: a base64-encoded 16-byte nonce.
    let key = match head.header("sec-websocket-key") {
        Some(key) if key.len() == 24 && key.ends_with("==") => key,
        _ => {
            return Err(Response::error(
                Status::BAD_REQUEST,
                "missing or malformed Sec-WebSocket-Key",
            ));
        }
    };
    if let Some(origin) = head.header("origin") {
        let allowed = allowed_origins.is_empty()
            || allowed_origins
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&origin));
        if !allowed {
            return Err(Response::error(
                Status::FORBIDDEN,
                "this origin may not open WebSockets here (see [http] allowed_origins)",
            ));
        }
    }
    let Ok(subprotocol) = Subprotocol::choose(&head.tokens("sec-websocket-protocol")) else {
        return Err(Response::error(
            Status::BAD_REQUEST,
            "offer the WebSocket subprotocol mqtt (or mqttv3.1 for MQTT 3.1)",
        ));
    };
    let mut response = Response::new(Status::SWITCHING_PROTOCOLS)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header(
            "Sec-WebSocket-Accept",
            tungstenite::handshake::derive_accept_key(key.as_bytes()),
        );
    if let Some(chosen) = subprotocol {
        response = response.header("Sec-WebSocket-Protocol", chosen.as_str());
    }
    Ok(Accepted {
        response,
        subprotocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(extra: &str) -> RequestHead {
        let text = format!(
            "GET /mqtt HTTP/1.1\r\nHost: pi\r\nUpgrade: websocket\r\n\
             Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        );
        RequestHead::parse(text.as_bytes(), 8192)
            .unwrap()
            .unwrap()
            .0
    }

    fn refusal(head: &RequestHead, origins: &[&str]) -> u16 {
        let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
        accept(head, &origins).unwrap_err().status.0
    }

    #[test]
    fn the_accept_key_is_the_one_from_rfc_6455() {
        let accepted = accept(&head("Sec-WebSocket-Protocol: mqtt\r\n"), &[]).unwrap();
        assert_eq!(accepted.response.status, Status::SWITCHING_PROTOCOLS);
        // RFC 6455 §1.3 worked example.
        assert_eq!(
            accepted.response.get("Sec-WebSocket-Accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        assert_eq!(
            accepted.response.get("Sec-WebSocket-Protocol"),
            Some("mqtt")
        );
        assert_eq!(accepted.subprotocol, Some(Subprotocol::Mqtt));
    }

    #[test]
    fn mqtt_wins_then_mqttv31_then_none_else_refused() {
        let offer = |list: &[&str]| {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            Subprotocol::choose(&list)
        };
        assert_eq!(offer(&["mqttv3.1", "mqtt"]), Ok(Some(Subprotocol::Mqtt)));
        assert_eq!(offer(&["mqttv3.1"]), Ok(Some(Subprotocol::MqttV31)));
        assert_eq!(offer(&["foo", "mqttv3.1"]), Ok(Some(Subprotocol::MqttV31)));
        assert_eq!(offer(&[]), Ok(None));
        assert_eq!(offer(&["foo"]), Err(ForeignSubprotocols));
        assert_eq!(
            offer(&["MQTT"]),
            Err(ForeignSubprotocols),
            "names are case-sensitive"
        );

        let none = accept(&head(""), &[]).unwrap();
        assert_eq!(none.subprotocol, None);
        assert_eq!(none.response.get("Sec-WebSocket-Protocol"), None);
        assert_eq!(refusal(&head("Sec-WebSocket-Protocol: foo\r\n"), &[]), 400);
    }

    #[test]
    fn origins_are_checked_only_when_listed_and_sent() {
        let from_dash = head("Origin: http://Pi.local:8080\r\n");
        let list = ["http://pi.local:8080", "null"];
        assert!(accept(&from_dash, &[]).is_ok(), "empty list: any origin");
        let listed: Vec<String> = list.iter().map(|o| o.to_string()).collect();
        assert!(accept(&from_dash, &listed).is_ok(), "case-insensitive");
        assert_eq!(
            refusal(&head("Origin: http://evil.example\r\n"), &list),
            403
        );
        assert!(
            accept(&head(""), &listed).is_ok(),
            "no Origin: not a browser"
        );
        assert!(accept(&head("Origin: null\r\n"), &listed).is_ok());
    }

    #[test]
    fn broken_handshakes_get_the_status_rfc_6455_asks_for() {
        let text = "GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let old = RequestHead::parse(text.as_bytes(), 8192)
            .unwrap()
            .unwrap()
            .0;
        let response = accept(&old, &[]).unwrap_err();
        assert_eq!(response.status, Status::UPGRADE_REQUIRED);
        assert_eq!(response.get("Sec-WebSocket-Version"), Some("13"));

        let no_key = text.replace("Sec-WebSocket-Version: 8", "Sec-WebSocket-Version: 13");
        let no_key = no_key.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
        let no_key = RequestHead::parse(no_key.as_bytes(), 8192)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(refusal(&no_key, &[]), 400);

        let post = text.replace("GET", "POST");
        let post = RequestHead::parse(post.as_bytes(), 8192)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(refusal(&post, &[]), 405);

        let no_connection = text.replace("Connection: Upgrade\r\n", "");
        let no_connection = RequestHead::parse(no_connection.as_bytes(), 8192)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(refusal(&no_connection, &[]), 400);
        assert!(is_upgrade(&no_connection));
    }
}
