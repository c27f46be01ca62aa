//! MQTT 5 topic aliases (§3.3.2.3.4), one table per direction and connection.

use std::collections::HashMap;

use bytestring::ByteString;

use crate::protocol::mqtt::ReasonCode;

/// Aliases the client assigned in PUBLISHes it sent us.
#[derive(Debug, Default)]
pub struct InboundAliases {
    max: u16,
    topics: HashMap<u16, ByteString>,
}

impl InboundAliases {
    /// A table accepting aliases 1..=`max` (our Topic Alias Maximum).
    pub fn new(max: u16) -> Self {
        Self {
            max,
            topics: HashMap::new(),
        }
    }

    /// The topic a PUBLISH stands for: sets the alias when the topic is
    /// present, looks it up when the topic is empty. Errors are the reason of
    /// the DISCONNECT the server must send.
    pub fn resolve(
        &mut self,
        topic: &ByteString,
        alias: Option<u16>,
    ) -> Result<ByteString, ReasonCode> {
        let Some(alias) = alias else {
            return if topic.is_empty() {
                Err(ReasonCode::PROTOCOL_ERROR)
            } else {
                Ok(topic.clone())
            };
        };
        if alias == 0 || alias > self.max {
            return Err(ReasonCode::TOPIC_ALIAS_INVALID);
        }
        if topic.is_empty() {
            return self
                .topics
                .get(&alias)
                .cloned()
                .ok_or(ReasonCode::PROTOCOL_ERROR);
        }
        self.topics.insert(alias, topic.clone());
        Ok(topic.clone())
    }
}

/// Aliases we assign towards the client, up to the client's Topic Alias Maximum.
///
/// The first `max` distinct topics get an alias for the life of the
/// connection; later topics are sent in full. Sensors publish on a few
/// fixed topics, so first-come keeps the common case compact without the
/// churn of reassigning aliases.
#[derive(Debug, Default)]
pub struct OutboundAliases {
    max: u16,
    aliases: HashMap<ByteString, u16>,
}

impl OutboundAliases {
    /// A table assigning aliases 1..=`max`; 0 disables aliases.
    pub fn new(max: u16) -> Self {
        Self {
            max,
            aliases: HashMap::new(),
        }
    }

    /// The topic to write (empty when the alias stands for it) and the alias to send.
    pub fn apply(&mut self, topic: &ByteString) -> (ByteString, Option<u16>) {
        if self.max == 0 {
            return (topic.clone(), None);
        }
        if let Some(&alias) = self.aliases.get(topic) {
            return (ByteString::new(), Some(alias));
        }
        let next = self.aliases.len() + 1;
        match u16::try_from(next) {
            Ok(alias) if alias <= self.max => {
                self.aliases.insert(topic.clone(), alias);
                (topic.clone(), Some(alias))
            }
            _ => (topic.clone(), None),
        }
    }

    /// Takes back an alias just assigned to `topic` by [`Self::apply`] for a
    /// packet that was then not sent, so the client never sees an empty topic
    /// with an alias it was not told about.
    pub fn revoke_last(&mut self, topic: &ByteString) {
        if self
            .aliases
            .get(topic)
            .is_some_and(|&alias| usize::from(alias) == self.aliases.len())
        {
            self.aliases.remove(topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_alias_is_set_then_used() {
        let mut a = InboundAliases::new(2);
        assert_eq!(a.resolve(&"x/y".into(), Some(1)).unwrap(), "x/y");
        assert_eq!(a.resolve(&"".into(), Some(1)).unwrap(), "x/y");
        assert_eq!(
            a.resolve(&"z".into(), Some(1)).unwrap(),
            "z",
            "an alias can be remapped"
        );
        assert_eq!(a.resolve(&"".into(), Some(1)).unwrap(), "z");
    }

    #[test]
    fn inbound_alias_errors() {
        let mut a = InboundAliases::new(2);
        assert_eq!(
            a.resolve(&"t".into(), Some(0)),
            Err(ReasonCode::TOPIC_ALIAS_INVALID)
        );
        assert_eq!(
            a.resolve(&"t".into(), Some(3)),
            Err(ReasonCode::TOPIC_ALIAS_INVALID)
        );
        assert_eq!(
            a.resolve(&"".into(), Some(2)),
            Err(ReasonCode::PROTOCOL_ERROR)
        );
        assert_eq!(a.resolve(&"".into(), None), Err(ReasonCode::PROTOCOL_ERROR));
    }

    #[test]
    fn outbound_aliases_are_assigned_first_come_up_to_max() {
        let mut a = OutboundAliases::new(1);
        assert_eq!(a.apply(&"a".into()), ("a".into(), Some(1)));
        assert_eq!(a.apply(&"a".into()), ("".into(), Some(1)));
        assert_eq!(a.apply(&"b".into()), ("b".into(), None));
        a.revoke_last(&"a".into());
        assert_eq!(
            a.apply(&"c".into()),
            ("c".into(), Some(1)),
            "a revoked alias is assigned again"
        );
        let mut off = OutboundAliases::new(0);
        assert_eq!(off.apply(&"a".into()), ("a".into(), None));
    }
}
