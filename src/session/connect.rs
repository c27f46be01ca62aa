//! What a CONNECT asks for and what the server grants: pure rules, no I/O.
//!
//! Kept apart from the actor so every acceptance rule (client id, keepalive,
//! session expiry, will, limits) is tested without a socket.

use std::time::{Duration, Instant};

use crate::broker::publication::Publication;
use crate::broker::router::Will;
use crate::protocol::mqtt::{ConnAck, Connect, Properties, ProtocolVersion, QoS, ReasonCode};
use crate::protocol::topic;

/// The limits a session enforces and advertises, from `[mqtt]` and `[limits]`.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub max_packet_size: u32,
    pub max_inflight: u16,
    pub max_topic_alias: u16,
    pub retain_available: bool,
    pub max_session_expiry: u32,
    pub connect_timeout: Duration,
    pub max_keepalive: u16,
}

/// What the server agreed to for this connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    pub version: ProtocolVersion,
    /// Keepalive in force, seconds; 0 = none.
    pub keep_alive: u16,
    /// Set when the server overrides the client's keepalive (v5 Server Keep Alive).
    pub server_keep_alive: Option<u16>,
    /// Session expiry in force; `u32::MAX` = never.
    pub session_expiry: u32,
    /// Set when the server lowered the client's session expiry (v5, sent in CONNACK).
    pub session_expiry_lowered: bool,
    /// QoS 1/2 messages we may have unacknowledged at the client.
    pub window: usize,
    /// Largest packet the client accepts.
    pub max_packet_out: u32,
    /// Aliases we may assign towards the client.
    pub aliases_out: u16,
}

/// Decides whether a CONNECT is accepted and on which terms. An error is the
/// reason code of the refusing CONNACK (mapped to a 3.1.1 return code when needed).
pub fn negotiate(connect: &Connect, config: &SessionConfig) -> Result<Terms, ReasonCode> {
    let version = connect.protocol;
    let v5 = version.is_v5();
    if connect.client_id.is_empty() {
        // 3.1 requires an id; 3.1.1 allows an empty one only with a clean session [MQTT-3.1.3-8].
        let allowed = match version {
            ProtocolVersion::V31 => false,
            ProtocolVersion::V311 => connect.clean_start,
            ProtocolVersion::V5 => true,
        };
        if !allowed {
            return Err(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
        }
    }
    if v5 && connect.properties.authentication_method.is_some() {
        // Enhanced authentication is not offered (MQTT 5.0 §4.12).
        return Err(ReasonCode::BAD_AUTHENTICATION_METHOD);
    }
    if let Some(will) = &connect.will {
        if topic::validate_topic_name(&will.topic).is_err() {
            return Err(ReasonCode::TOPIC_NAME_INVALID);
        }
        if will.retain && !config.retain_available {
            return Err(ReasonCode::RETAIN_NOT_SUPPORTED);
        }
    }
    let mut server_keep_alive = None;
    let mut keep_alive = connect.keep_alive;
    if keep_alive > config.max_keepalive || (keep_alive == 0 && config.max_keepalive < u16::MAX) {
        if !v5 {
            // 3.1.1 cannot tell the client another value; Mosquitto refuses the same way.
            return Err(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
        }
        keep_alive = config.max_keepalive;
        server_keep_alive = Some(keep_alive);
    }
    let asked_expiry = if v5 {
        connect.properties.session_expiry_interval.unwrap_or(0)
    } else if connect.clean_start {
        0
    } else {
        u32::MAX
    };
    let session_expiry = asked_expiry.min(config.max_session_expiry);
    let client_window = connect.properties.receive_maximum.unwrap_or(u16::MAX);
    Ok(Terms {
        version,
        keep_alive,
        server_keep_alive,
        session_expiry,
        session_expiry_lowered: v5 && session_expiry < asked_expiry,
        window: usize::from(client_window.min(config.max_inflight)),
        max_packet_out: connect.properties.maximum_packet_size.unwrap_or(u32::MAX),
        aliases_out: connect
            .properties
            .topic_alias_maximum
            .unwrap_or(0)
            .min(config.max_topic_alias),
    })
}

/// The will of a CONNECT, as the broker keeps it.
pub fn will_of(connect: &Connect, now: Instant) -> Option<Will> {
    let will = connect.will.as_ref()?;
    let mut properties = will.properties.clone();
    let delay = properties.will_delay_interval.take().unwrap_or(0);
    let expires_at = properties
        .message_expiry_interval
        .map(|s| now + Duration::from_secs(u64::from(s)));
    Some(Will {
        publication: Publication {
            topic: will.topic.clone(),
            payload: will.payload.clone(),
            qos: will.qos,
            retain: will.retain,
            properties: Publication::forwarded(properties),
            expires_at,
            origin: None,
        },
        delay,
    })
}

/// The CONNACK that accepts a connection on `terms`.
pub fn accepted(
    terms: &Terms,
    config: &SessionConfig,
    session_present: bool,
    assigned_client_id: Option<bytestring::ByteString>,
) -> ConnAck {
    let mut properties = Properties::default();
    if terms.version.is_v5() {
        properties.assigned_client_identifier = assigned_client_id;
        properties.server_keep_alive = terms.server_keep_alive;
        if terms.session_expiry_lowered {
            properties.session_expiry_interval = Some(terms.session_expiry);
        }
        if config.max_inflight < u16::MAX {
            properties.receive_maximum = Some(config.max_inflight);
        }
        if config.max_topic_alias > 0 {
            properties.topic_alias_maximum = Some(config.max_topic_alias);
        }
        properties.maximum_packet_size = Some(config.max_packet_size);
        if !config.retain_available {
            properties.retain_available = Some(0);
        }
    }
    ConnAck {
        session_present,
        code: ReasonCode::SUCCESS,
        properties,
    }
}

/// The CONNACK that refuses a connection.
pub fn refused(code: ReasonCode) -> ConnAck {
    ConnAck {
        session_present: false,
        code,
        properties: Properties::default(),
    }
}

/// Highest QoS the server grants; all three are supported.
pub const MAX_QOS: QoS = QoS::ExactlyOnce;

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::protocol::mqtt::LastWill;

    fn config() -> SessionConfig {
        SessionConfig {
            max_packet_size: 1 << 20,
            max_inflight: 32,
            max_topic_alias: 10,
            retain_available: true,
            max_session_expiry: 3600,
            connect_timeout: Duration::from_secs(10),
            max_keepalive: 600,
        }
    }

    fn connect(version: ProtocolVersion, client_id: &str, clean: bool) -> Connect {
        Connect {
            protocol: version,
            clean_start: clean,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        }
    }

    #[test]
    fn empty_client_id_rules_per_version() {
        let c = config();
        assert_eq!(
            negotiate(&connect(ProtocolVersion::V31, "", true), &c),
            Err(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID)
        );
        assert!(negotiate(&connect(ProtocolVersion::V311, "", true), &c).is_ok());
        assert_eq!(
            negotiate(&connect(ProtocolVersion::V311, "", false), &c),
            Err(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID)
        );
        assert!(negotiate(&connect(ProtocolVersion::V5, "", false), &c).is_ok());
    }

    #[test]
    fn session_expiry_from_clean_flag_or_property_capped() {
        let c = config();
        assert_eq!(
            negotiate(&connect(ProtocolVersion::V311, "a", true), &c)
                .unwrap()
                .session_expiry,
            0
        );
        assert_eq!(
            negotiate(&connect(ProtocolVersion::V311, "a", false), &c)
                .unwrap()
                .session_expiry,
            3600
        );
        let mut v5 = connect(ProtocolVersion::V5, "a", false);
        v5.properties.session_expiry_interval = Some(100);
        let terms = negotiate(&v5, &c).unwrap();
        assert_eq!(
            (terms.session_expiry, terms.session_expiry_lowered),
            (100, false)
        );
        v5.properties.session_expiry_interval = Some(u32::MAX);
        let terms = negotiate(&v5, &c).unwrap();
        assert_eq!(
            (terms.session_expiry, terms.session_expiry_lowered),
            (3600, true)
        );
    }

    #[test]
    fn keepalive_above_maximum_is_lowered_for_v5_and_refused_for_v311() {
        let c = config();
        let mut v5 = connect(ProtocolVersion::V5, "a", true);
        v5.keep_alive = 1000;
        let terms = negotiate(&v5, &c).unwrap();
        assert_eq!(
            (terms.keep_alive, terms.server_keep_alive),
            (600, Some(600))
        );
        let mut v3 = connect(ProtocolVersion::V311, "a", true);
        v3.keep_alive = 0;
        assert_eq!(
            negotiate(&v3, &c),
            Err(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID)
        );
    }

    #[test]
    fn window_is_the_smaller_receive_maximum() {
        let c = config();
        let mut v5 = connect(ProtocolVersion::V5, "a", true);
        v5.properties.receive_maximum = Some(5);
        assert_eq!(negotiate(&v5, &c).unwrap().window, 5);
        v5.properties.receive_maximum = None;
        assert_eq!(negotiate(&v5, &c).unwrap().window, 32);
    }

    #[test]
    fn enhanced_auth_and_bad_will_topic_are_refused() {
        let c = config();
        let mut v5 = connect(ProtocolVersion::V5, "a", true);
        v5.properties.authentication_method = Some("SCRAM".into());
        assert_eq!(
            negotiate(&v5, &c),
            Err(ReasonCode::BAD_AUTHENTICATION_METHOD)
        );
        let mut v3 = connect(ProtocolVersion::V311, "a", true);
        v3.will = Some(LastWill {
            topic: "a/+".into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::default(),
        });
        assert_eq!(negotiate(&v3, &c), Err(ReasonCode::TOPIC_NAME_INVALID));
    }

    #[test]
    fn will_delay_is_taken_out_of_forwarded_properties() {
        let mut v5 = connect(ProtocolVersion::V5, "a", true);
        let properties = Properties {
            will_delay_interval: Some(30),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        v5.will = Some(LastWill {
            topic: "w".into(),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties,
        });
        let will = will_of(&v5, Instant::now()).unwrap();
        assert_eq!(will.delay, 30);
        let kept = will.publication.properties.unwrap();
        assert_eq!(kept.will_delay_interval, None);
        assert_eq!(kept.content_type.as_deref(), Some("text/plain"));
    }
}
