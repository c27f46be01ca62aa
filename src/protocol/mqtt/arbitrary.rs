//! `proptest` strategies for valid packets of every kind, per protocol version:
//! exactly the values the encoder can write and the decoder gives back.

use std::num::NonZeroU16;

use bytes::Bytes;
use bytestring::ByteString;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::Union;

use super::primitives::MAX_VAR_INT;
use super::properties::Scope;
use super::{
    Ack, Auth, ConnAck, Connect, Disconnect, LastWill, Packet, PacketId, Properties,
    ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscriptionOptions, UnsubAck, Unsubscribe,
};

/// Any UTF-8 text without U+0000, short enough to keep cases fast.
pub(super) fn text() -> impl Strategy<Value = ByteString> {
    vec(any::<char>().prop_filter("no U+0000", |c| *c != '\0'), 0..8)
        .prop_map(|chars| ByteString::from(chars.into_iter().collect::<String>()))
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|id| NonZeroU16::new(id).unwrap())
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn flag() -> impl Strategy<Value = u8> {
    0..=1u8
}

fn reason() -> impl Strategy<Value = ReasonCode> {
    any::<u8>().prop_map(ReasonCode)
}

/// Every property with a valid value, before `keep_only` trims it to a scope.
fn all_properties() -> impl Strategy<Value = Properties> {
    let message = (
        option::of(flag()),
        option::of(any::<u32>()),
        option::of(text()),
        option::of(text()),
        option::of(binary()),
        vec(1..=MAX_VAR_INT, 0..3),
        option::of(any::<u16>()),
    );
    let connection = (
        option::of(any::<u32>()),
        option::of(text()),
        option::of(any::<u16>()),
        option::of(text()),
        option::of(binary()),
        option::of(flag()),
        option::of(any::<u32>()),
        option::of(flag()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
    );
    let limits = (
        option::of(1..=u16::MAX),
        option::of(any::<u16>()),
        option::of(flag()),
        option::of(flag()),
        vec((text(), text()), 0..3),
        option::of(1..=u32::MAX),
        option::of(flag()),
        option::of(flag()),
        option::of(flag()),
    );
    (message, connection, limits).prop_map(|(message, connection, limits)| Properties {
        payload_format_indicator: message.0,
        message_expiry_interval: message.1,
        content_type: message.2,
        response_topic: message.3,
        correlation_data: message.4,
        subscription_identifiers: message.5,
        topic_alias: message.6,
        session_expiry_interval: connection.0,
        assigned_client_identifier: connection.1,
        server_keep_alive: connection.2,
        authentication_method: connection.3,
        authentication_data: connection.4,
        request_problem_information: connection.5,
        will_delay_interval: connection.6,
        request_response_information: connection.7,
        response_information: connection.8,
        server_reference: connection.9,
        reason_string: connection.10,
        receive_maximum: limits.0,
        topic_alias_maximum: limits.1,
        maximum_qos: limits.2,
        retain_available: limits.3,
        user_properties: limits.4,
        maximum_packet_size: limits.5,
        wildcard_subscription_available: limits.6,
        subscription_identifiers_available: limits.7,
        shared_subscription_available: limits.8,
    })
}

/// Clears every property `scope` may not carry.
fn keep_only(mut p: Properties, scope: Scope) -> Properties {
    macro_rules! keep {
        ($($field:ident = $id:literal),* $(,)?) => {
            $(if !scope.allows($id) {
                p.$field = Default::default();
            })*
        };
    }
    keep!(
        payload_format_indicator = 0x01,
        message_expiry_interval = 0x02,
        content_type = 0x03,
        response_topic = 0x08,
        correlation_data = 0x09,
        subscription_identifiers = 0x0B,
        session_expiry_interval = 0x11,
        assigned_client_identifier = 0x12,
        server_keep_alive = 0x13,
        authentication_method = 0x15,
        authentication_data = 0x16,
        request_problem_information = 0x17,
        will_delay_interval = 0x18,
        request_response_information = 0x19,
        response_information = 0x1A,
        server_reference = 0x1C,
        reason_string = 0x1F,
        receive_maximum = 0x21,
        topic_alias_maximum = 0x22,
        topic_alias = 0x23,
        maximum_qos = 0x24,
        retain_available = 0x25,
        user_properties = 0x26,
        maximum_packet_size = 0x27,
        wildcard_subscription_available = 0x28,
        subscription_identifiers_available = 0x29,
        shared_subscription_available = 0x2A,
    );
    if scope == Scope::Subscribe {
        p.subscription_identifiers.truncate(1);
    }
    p
}

/// Valid properties for `scope` in 5.0; none before.
fn properties(version: ProtocolVersion, scope: Scope) -> BoxedStrategy<Properties> {
    if version.is_v5() {
        all_properties()
            .prop_map(move |p| keep_only(p, scope))
            .boxed()
    } else {
        Just(Properties::default()).boxed()
    }
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let will = (
        text(),
        binary(),
        qos(),
        any::<bool>(),
        properties(version, Scope::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        (any::<bool>(), any::<u16>(), text()),
        option::of(will),
        option::of(text()),
        option::of(binary()),
        properties(version, Scope::Connect),
    )
        .prop_map(
            move |((clean_start, keep_alive, client_id), will, username, password, properties)| {
                // Before 5.0 a password needs a user name ([MQTT-3.1.2-22]).
                let password = password.filter(|_| version.is_v5() || username.is_some());
                Packet::Connect(Box::new(Connect {
                    protocol: version,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let code = if version.is_v5() {
        reason().boxed()
    } else {
        // The reason codes that 3.1.1 return codes map back to.
        proptest::sample::select(vec![0x00, 0x84, 0x85, 0x88, 0x86, 0x87])
            .prop_map(ReasonCode)
            .boxed()
    };
    (any::<bool>(), code, properties(version, Scope::ConnAck)).prop_map(
        move |(session_present, code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present: session_present && version != ProtocolVersion::V31,
                code,
                properties,
            })
        },
    )
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        (qos(), any::<bool>(), any::<bool>(), packet_id()),
        text(),
        properties(version, Scope::Publish),
        binary(),
    )
        .prop_map(|((qos, dup, retain, id), topic, properties, payload)| {
            let at_most_once = qos == QoS::AtMostOnce;
            Packet::Publish(Publish {
                dup: dup && !at_most_once,
                qos,
                retain,
                topic,
                packet_id: (!at_most_once).then_some(id),
                properties,
                payload,
            })
        })
}

fn ack(version: ProtocolVersion) -> impl Strategy<Value = Ack> {
    let reason = if version.is_v5() {
        reason().boxed()
    } else {
        Just(ReasonCode::SUCCESS).boxed()
    };
    (packet_id(), reason, properties(version, Scope::Ack)).prop_map(
        |(packet_id, reason, properties)| Ack {
            packet_id,
            reason,
            properties,
        },
    )
}

fn options(version: ProtocolVersion) -> impl Strategy<Value = SubscriptionOptions> {
    let handling = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNew),
        Just(RetainHandling::DoNotSend)
    ];
    (qos(), any::<bool>(), any::<bool>(), handling).prop_map(move |(qos, no_local, rap, rh)| {
        if version.is_v5() {
            SubscriptionOptions {
                qos,
                no_local,
                retain_as_published: rap,
                retain_handling: rh,
            }
        } else {
            SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            }
        }
    })
}

fn subscriptions(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let subscribe = (
        packet_id(),
        vec((text(), options(version)), 1..4),
        properties(version, Scope::Subscribe),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        });
    let suback_reason = if version.is_v5() {
        reason().boxed()
    } else {
        proptest::sample::select(vec![0x00, 0x01, 0x02, 0x80])
            .prop_map(ReasonCode)
            .boxed()
    };
    let suback = (
        packet_id(),
        vec(suback_reason, 0..4),
        properties(version, Scope::SubAck),
    )
        .prop_map(|(packet_id, reasons, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reasons,
                properties,
            })
        });
    let unsubscribe = (
        packet_id(),
        vec(text(), 1..4),
        properties(version, Scope::Unsubscribe),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        });
    let max_reasons = if version.is_v5() { 4 } else { 0 };
    let unsuback = (
        packet_id(),
        vec(reason(), 0..=max_reasons),
        properties(version, Scope::UnsubAck),
    )
        .prop_map(|(packet_id, reasons, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reasons,
                properties,
            })
        });
    prop_oneof![subscribe, suback, unsubscribe, unsuback]
}

fn disconnect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let reason = if version.is_v5() {
        reason().boxed()
    } else {
        Just(ReasonCode::SUCCESS).boxed()
    };
    (reason, properties(version, Scope::Disconnect))
        .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties }))
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason(), properties(ProtocolVersion::V5, Scope::Auth))
        .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties }))
}

/// Any packet that `version` can carry, with values that survive a round trip.
pub(super) fn packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut kinds = vec![
        connect(version).boxed(),
        connack(version).boxed(),
        publish(version).boxed(),
        ack(version).prop_map(Packet::PubAck).boxed(),
        ack(version).prop_map(Packet::PubRec).boxed(),
        ack(version).prop_map(Packet::PubRel).boxed(),
        ack(version).prop_map(Packet::PubComp).boxed(),
        subscriptions(version).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(version).boxed(),
    ];
    if version.is_v5() {
        kinds.push(auth().boxed());
    }
    Union::new(kinds).boxed()
}
