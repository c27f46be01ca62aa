//! Topic names and topic filters (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7 and §4.8.2).
//!
//! A topic name is where a PUBLISH goes; a topic filter is what a SUBSCRIBE asks for, and may
//! hold the wildcards `+` (exactly one level) and `#` (this level and everything below it).
//! Both are validated once, where they enter the broker, so that the subscription tree and the
//! retained store can trust their input and stay free of error paths.
//!
//! [`matches`] is the reference matcher: short and obviously right rather than fast. The
//! subscription tree and the retained store are property-tested against it.

use thiserror::Error;

/// The longest topic name or filter, in bytes: MQTT strings carry a 16-bit length
/// (MQTT 3.1.1 §1.5.3, §4.7.3).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// The most levels a topic name or filter may have.
///
/// MQTT sets no limit, but the subscription tree and the retained store hold one node per level
/// and walk them recursively: a 65,535-byte filter of slashes would be 65,536 nodes deep and
/// overflow the stack. Mosquitto closed the same hole (CVE-2019-11779) with a limit of 200; no
/// real topic tree comes near it.
pub const MAX_TOPIC_LEVELS: usize = 200;

/// The first level of a shared subscription's filter (MQTT 5.0 §4.8.2).
const SHARE_LEVEL: &str = "$share";

/// Why a topic name, topic filter or shared subscription was refused.
///
/// The caller turns it into a protocol reaction (an MQTT 5 reason code such as 0x8F "Topic
/// Filter invalid" or 0x90 "Topic Name invalid", a v3.1.1 SUBACK failure, a DISCONNECT), so it
/// carries no data and compares with `==` in tests.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// Topic names and filters are at least one character long (MQTT 3.1.1 §4.7.3).
    #[error("topic is empty")]
    Empty,
    /// Longer than [`MAX_TOPIC_LEN`] bytes.
    #[error("topic is longer than {} bytes", MAX_TOPIC_LEN)]
    TooLong,
    /// More than [`MAX_TOPIC_LEVELS`] levels.
    #[error("topic has more than {} levels", MAX_TOPIC_LEVELS)]
    TooManyLevels,
    /// Holds U+0000 (MQTT 3.1.1 §4.7.3).
    #[error("topic contains the null character")]
    NullChar,
    /// A topic name holds `+` or `#` (MQTT 3.1.1 §4.7.1.1).
    #[error("topic name contains a wildcard")]
    WildcardInName,
    /// `#` is not alone in the last level of a filter (MQTT 3.1.1 §4.7.1.2).
    #[error("'#' must be alone in the last level of a topic filter")]
    InvalidMultiLevelWildcard,
    /// `+` is not alone in its level of a filter (MQTT 3.1.1 §4.7.1.3).
    #[error("'+' must be alone in its level of a topic filter")]
    InvalidSingleLevelWildcard,
    /// `$share/{group}/{filter}` with an empty group, a group holding `+` or `#`, or no filter
    /// (MQTT 5.0 §4.8.2).
    #[error("invalid shared subscription")]
    InvalidShareName,
}

/// Checks a topic name, as carried by PUBLISH and by a will message, before it is routed or
/// retained: non-empty, at most [`MAX_TOPIC_LEN`] bytes and [`MAX_TOPIC_LEVELS`] levels, no
/// U+0000 and no wildcard.
///
/// One pass over the bytes, since it runs for every publication. Control characters, which
/// MQTT only discourages (§4.7.3 "SHOULD NOT"), are accepted.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_length(name)?;
    let mut separators = 0;
    // Byte-wise is exact: in UTF-8, bytes of multi-byte characters are all >= 0x80.
    for byte in name.bytes() {
        match byte {
            0 => return Err(TopicError::NullChar),
            b'+' | b'#' => return Err(TopicError::WildcardInName),
            b'/' => {
                separators += 1;
                if separators >= MAX_TOPIC_LEVELS {
                    return Err(TopicError::TooManyLevels);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a (non-shared) topic filter, as carried by SUBSCRIBE and UNSUBSCRIBE: non-empty, at
/// most [`MAX_TOPIC_LEN`] bytes and [`MAX_TOPIC_LEVELS`] levels, no U+0000, and `+` or `#`
/// only alone in a level, `#` only in the last one.
///
/// A `$share/…` filter passes as a plain filter here; use [`parse_subscription`] for what a
/// client subscribes to.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_length(filter)?;
    if filter.contains('\0') {
        return Err(TopicError::NullChar);
    }
    let mut after_multi_level = false;
    for (index, level) in filter.split('/').enumerate() {
        if index >= MAX_TOPIC_LEVELS {
            return Err(TopicError::TooManyLevels);
        }
        // A level after `#`: `#` was not the last one.
        if after_multi_level {
            return Err(TopicError::InvalidMultiLevelWildcard);
        }
        match level {
            "#" => after_multi_level = true,
            "+" => {}
            _ if level.contains('#') => return Err(TopicError::InvalidMultiLevelWildcard),
            _ if level.contains('+') => return Err(TopicError::InvalidSingleLevelWildcard),
            _ => {}
        }
    }
    Ok(())
}

/// Splits what a client subscribes to into its shared-subscription group, if any, and the
/// topic filter to match, validating both: `$share/{group}/{filter}` gives
/// `(Some(group), filter)` (MQTT 5.0 §4.8.2), anything else `(None, filter)`.
///
/// The tuple feeds the subscription tree's `insert(group, filter, …)` directly. Shared
/// subscriptions are recognised whatever the protocol version, as Mosquitto does, so v3.1.1
/// clients can use them too; refusing them for v3.1.1 is the caller's choice. A lone `$share`
/// is refused: it can only be a mistyped shared subscription.
pub fn parse_subscription(filter: &str) -> Result<(Option<&str>, &str), TopicError> {
    let Some(after_share) = filter.strip_prefix(SHARE_LEVEL) else {
        validate_topic_filter(filter)?;
        return Ok((None, filter));
    };
    let shared = match after_share.strip_prefix('/') {
        Some(shared) => shared,
        None if after_share.is_empty() => return Err(TopicError::InvalidShareName),
        // `$shared/…` and the like: a plain filter whose first level only starts with `$share`.
        None => {
            validate_topic_filter(filter)?;
            return Ok((None, filter));
        }
    };
    check_length(filter)?;
    if filter.contains('\0') {
        return Err(TopicError::NullChar);
    }
    let Some((group, inner)) = shared.split_once('/') else {
        return Err(TopicError::InvalidShareName);
    };
    if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
        return Err(TopicError::InvalidShareName);
    }
    validate_topic_filter(inner)?;
    Ok((Some(group), inner))
}

/// Whether `topic` (a valid topic name) matches `filter` (a valid, non-shared topic filter).
///
/// The reference the subscription tree and the retained store are tested against, and the
/// simplest place to answer "does this filter see this topic?". `+` matches exactly one level,
/// possibly empty; `#` matches its parent level and any number of levels below it, so
/// `sport/#` matches `sport`; empty levels are levels (`a//b`, `/a`); and a filter whose first
/// level is a wildcard does not match a topic starting with `$` (MQTT 3.1.1 §4.7.2), which keeps
/// `$SYS` out of `#` subscriptions. Invalid input gives an unspecified answer, never a panic.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && matches!(filter.split('/').next(), Some("+" | "#")) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(wanted), Some(level)) if wanted == level => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Rejects the empty and the too long, the checks names and filters share.
fn check_length(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        Err(TopicError::Empty)
    } else if topic.len() > MAX_TOPIC_LEN {
        Err(TopicError::TooLong)
    } else {
        Ok(())
    }
}

/// `proptest` strategies shared by the tests of the subscription tree and the retained store:
/// a small alphabet of levels, so that random filters and topics often match.
#[cfg(test)]
pub(crate) mod strategies {
    use proptest::prelude::*;

    /// Levels of topic names: two plain ones, a `$` one for the §4.7.2 rule, and the empty one.
    const LEVELS: &[&str] = &["a", "b", "$x", ""];

    fn level() -> impl Strategy<Value = &'static str> {
        prop::sample::select(LEVELS)
    }

    /// A valid topic name of one to four levels.
    pub(crate) fn topic_name() -> impl Strategy<Value = String> {
        prop::collection::vec(level(), 1..=4)
            .prop_map(|levels| levels.join("/"))
            .prop_filter("a topic name is not empty", |name| !name.is_empty())
    }

    /// A valid topic filter of one to five levels, with `+` anywhere and `#` only last.
    pub(crate) fn topic_filter() -> impl Strategy<Value = String> {
        let level_or_plus = prop_oneof![3 => level(), 1 => Just("+")];
        (prop::collection::vec(level_or_plus, 0..=4), any::<bool>())
            .prop_map(|(mut levels, multi_level)| {
                if multi_level || levels.is_empty() {
                    levels.push("#");
                }
                levels.join("/")
            })
            .prop_filter("a topic filter is not empty", |filter| !filter.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::strategies::{topic_filter, topic_name};
    use super::*;
    use proptest::prelude::*;

    /// `levels` levels named `a`, joined by `/`.
    fn deep(levels: usize) -> String {
        vec!["a"; levels].join("/")
    }

    #[test]
    fn multi_level_wildcard_examples() {
        // MQTT 3.1.1 §4.7.1.2
        for topic in [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
        ] {
            assert!(matches("sport/tennis/player1/#", topic), "{topic}");
        }
        assert!(matches("sport/#", "sport"));
        assert!(!matches("sport/tennis/#", "sport"));
        assert!(!matches("sport/#", "sports"));
        for valid in ["#", "sport/tennis/#"] {
            assert_eq!(validate_topic_filter(valid), Ok(()), "{valid}");
        }
        assert_eq!(
            validate_topic_filter("sport/tennis#"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("sport/tennis/#/ranking"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
    }

    #[test]
    fn single_level_wildcard_examples() {
        // MQTT 3.1.1 §4.7.1.3
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        for valid in ["+", "+/tennis/#", "sport/+/player1"] {
            assert_eq!(validate_topic_filter(valid), Ok(()), "{valid}");
        }
        assert_eq!(
            validate_topic_filter("sport+"),
            Err(TopicError::InvalidSingleLevelWildcard)
        );
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
    }

    #[test]
    fn dollar_topics_are_hidden_from_leading_wildcards() {
        // MQTT 3.1.1 §4.7.2
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(!matches("+", "$SYS"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        // Only the first character counts.
        assert!(matches("a/+", "a/$x"));
        assert!(matches("#", "a/$x"));
    }

    #[test]
    fn empty_levels_and_case_are_significant() {
        // MQTT 3.1.1 §4.7.3
        assert!(!matches("ACCOUNTS", "Accounts"));
        assert_eq!(validate_topic_name("Accounts payable"), Ok(()));
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert!(matches("+/+", "/"));
        assert!(matches("a//b", "a//b"));
        assert!(matches("a/+/b", "a//b"));
        assert!(!matches("a/b", "a//b"));
        assert!(!matches("a", "/a"));
        assert!(matches("#", "/a"));
        assert!(!matches("a/b", "a/b/"));
        assert!(matches("a/b/#", "a/b/"));
    }

    #[test]
    fn error_empty() {
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        assert_eq!(parse_subscription(""), Err(TopicError::Empty));
    }

    #[test]
    fn error_too_long() {
        let longest = "a".repeat(MAX_TOPIC_LEN);
        assert_eq!(validate_topic_name(&longest), Ok(()));
        assert_eq!(validate_topic_filter(&longest), Ok(()));
        let too_long = "a".repeat(MAX_TOPIC_LEN + 1);
        assert_eq!(validate_topic_name(&too_long), Err(TopicError::TooLong));
        assert_eq!(validate_topic_filter(&too_long), Err(TopicError::TooLong));
        let shared = format!("$share/g/{}", "a".repeat(MAX_TOPIC_LEN - 8));
        assert_eq!(parse_subscription(&shared), Err(TopicError::TooLong));
    }

    #[test]
    fn error_too_many_levels() {
        let deepest = deep(MAX_TOPIC_LEVELS);
        assert_eq!(validate_topic_name(&deepest), Ok(()));
        assert_eq!(validate_topic_filter(&deepest), Ok(()));
        let too_deep = deep(MAX_TOPIC_LEVELS + 1);
        assert_eq!(
            validate_topic_name(&too_deep),
            Err(TopicError::TooManyLevels)
        );
        assert_eq!(
            validate_topic_filter(&too_deep),
            Err(TopicError::TooManyLevels)
        );
        let slashes = "/".repeat(MAX_TOPIC_LEN);
        assert_eq!(
            validate_topic_name(&slashes),
            Err(TopicError::TooManyLevels)
        );
        assert_eq!(
            validate_topic_filter(&slashes),
            Err(TopicError::TooManyLevels)
        );
        // The `$share/group/` prefix does not count.
        let shared = format!("$share/g/{deepest}");
        assert_eq!(
            parse_subscription(&shared),
            Ok((Some("g"), deepest.as_str()))
        );
    }

    #[test]
    fn error_null_char() {
        assert_eq!(validate_topic_name("a/\0"), Err(TopicError::NullChar));
        assert_eq!(validate_topic_filter("a\0/#"), Err(TopicError::NullChar));
        assert_eq!(
            parse_subscription("$share/g\0/a"),
            Err(TopicError::NullChar)
        );
    }

    #[test]
    fn error_wildcard_in_name() {
        for name in ["+", "#", "a/+/b", "a/#", "a+b"] {
            assert_eq!(
                validate_topic_name(name),
                Err(TopicError::WildcardInName),
                "{name}"
            );
        }
    }

    #[test]
    fn error_invalid_multi_level_wildcard() {
        for filter in ["a#", "#a", "a/#/b", "#/#", "+#", "a/#/"] {
            assert_eq!(
                validate_topic_filter(filter),
                Err(TopicError::InvalidMultiLevelWildcard),
                "{filter}"
            );
        }
    }

    #[test]
    fn error_invalid_single_level_wildcard() {
        for filter in ["a+", "+a", "a/b+/c", "++"] {
            assert_eq!(
                validate_topic_filter(filter),
                Err(TopicError::InvalidSingleLevelWildcard),
                "{filter}"
            );
        }
    }

    #[test]
    fn error_invalid_share_name() {
        for filter in [
            "$share",
            "$share/",
            "$share//a",
            "$share/g",
            "$share/g/",
            "$share/g+/a",
            "$share/#/a",
        ] {
            assert_eq!(
                parse_subscription(filter),
                Err(TopicError::InvalidShareName),
                "{filter}"
            );
        }
    }

    #[test]
    fn shared_subscriptions_are_split_off() {
        // MQTT 5.0 §4.8.2
        assert_eq!(
            parse_subscription("$share/consumer1/sport/tennis/+"),
            Ok((Some("consumer1"), "sport/tennis/+"))
        );
        assert_eq!(parse_subscription("$share/g/#"), Ok((Some("g"), "#")));
        assert_eq!(parse_subscription("$share/g//"), Ok((Some("g"), "/")));
        assert_eq!(
            parse_subscription("$share/g/a/#/b"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
        assert_eq!(
            parse_subscription("$share/g/a+"),
            Err(TopicError::InvalidSingleLevelWildcard)
        );
    }

    #[test]
    fn other_filters_are_not_shared() {
        for filter in [
            "sport/#",
            "$SHARE/g/a",
            "$shared/a",
            "a/$share/g/b",
            "$SYS/#",
        ] {
            assert_eq!(parse_subscription(filter), Ok((None, filter)), "{filter}");
        }
        assert_eq!(
            parse_subscription("$shared/a#"),
            Err(TopicError::InvalidMultiLevelWildcard)
        );
    }

    proptest! {
        #[test]
        fn generated_topics_and_filters_are_valid(topic in topic_name(), filter in topic_filter()) {
            prop_assert_eq!(validate_topic_name(&topic), Ok(()));
            prop_assert_eq!(validate_topic_filter(&filter), Ok(()));
            prop_assert_eq!(parse_subscription(&filter), Ok((None, filter.as_str())));
        }

        #[test]
        fn a_topic_name_is_a_filter_matching_itself(topic in topic_name()) {
            prop_assert_eq!(validate_topic_filter(&topic), Ok(()));
            prop_assert!(matches(&topic, &topic));
        }

        #[test]
        fn hash_matches_every_topic_not_starting_with_dollar(topic in topic_name()) {
            prop_assert_eq!(matches("#", &topic), !topic.starts_with('$'));
        }

        #[test]
        fn validation_never_panics(text in "[a+#/$\u{0}é]{0,12}") {
            let _ = validate_topic_name(&text);
            let _ = validate_topic_filter(&text);
            let _ = parse_subscription(&text);
            let _ = matches(&text, &text);
        }
    }
}
