//! The ACL file and the pure matcher behind every publish and subscribe check.
//!
//! # Format (Mosquitto's `acl_file`, plus `client`)
//!
//! ```text
//! # Rules before any `user` or `client` line apply to anonymous clients.
//! topic read public/#
//!
//! user alice                  # rules for the user alice
//! topic readwrite home/#
//!
//! client kitchen-sensor       # rules for the client id, whoever logs in with it
//! topic write sensors/kitchen/#
//!
//! # `pattern` rules apply to every client.
//! pattern readwrite users/%u/#
//! pattern write devices/%c/status
//! ```
//!
//! Access is `read`, `write` or `readwrite` (omitted: `readwrite`). Topics are
//! MQTT topic filters (`+`, `#`). `%u` is replaced by the user name and `%c` by
//! the client id, in `topic` and `pattern` rules alike; a rule whose value is
//! missing (`%u` for an anonymous client) or contains `+`, `#` or `/` does not
//! apply, so nobody widens a rule by choosing a strange name. Rules only grant:
//! what no rule grants is denied, once an ACL file is configured.
//!
//! [`Grants`] is what one connection may do, computed once at CONNECT.
//! [`Grants::subscription`] tells whether a subscription filter lies fully
//! inside what may be read (then no delivery needs checking), overlaps it
//! (then each delivery is checked), or is denied.

use std::collections::HashMap;

use crate::protocol::topic;

use super::AuthError;

/// What a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    fn reads(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// One `topic` or `pattern` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    access: Access,
    filter: String,
}

/// The parsed ACL file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    anonymous: Vec<Rule>,
    users: HashMap<String, Vec<Rule>>,
    clients: HashMap<String, Vec<Rule>>,
    patterns: Vec<Rule>,
}

/// Which section `topic` lines currently go to.
enum Section {
    Anonymous,
    User(String),
    Client(String),
}

impl Acl {
    /// Parses the text of an ACL file; an error names the line.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let mut acl = Acl::default();
        let mut section = Section::Anonymous;
        for (number, line) in text.lines().enumerate() {
            let line_no = number + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match keyword {
                "user" | "client" if rest.is_empty() => {
                    return Err(AuthError::line(
                        line_no,
                        format!("`{keyword}` needs a name"),
                    ));
                }
                "user" => section = Section::User(rest.to_owned()),
                "client" => section = Section::Client(rest.to_owned()),
                "topic" => {
                    let rule = parse_rule(rest, line_no)?;
                    match &section {
                        Section::Anonymous => acl.anonymous.push(rule),
                        Section::User(name) => {
                            acl.users.entry(name.clone()).or_default().push(rule)
                        }
                        Section::Client(id) => {
                            acl.clients.entry(id.clone()).or_default().push(rule)
                        }
                    }
                }
                "pattern" => acl.patterns.push(parse_rule(rest, line_no)?),
                other => {
                    return Err(AuthError::line(
                        line_no,
                        format!(
                            "unknown keyword {other:?} (expected user, client, topic or pattern)"
                        ),
                    ));
                }
            }
        }
        Ok(acl)
    }

    /// What a client with this user name (`None`: anonymous) and client id may do.
    pub fn grants(&self, user: Option<&str>, client_id: &str) -> Grants {
        let mut grants = Grants::default();
        let sections = [
            match user {
                None => Some(&self.anonymous),
                Some(name) => self.users.get(name),
            },
            self.clients.get(client_id),
            Some(&self.patterns),
        ];
        for rule in sections.into_iter().flatten().flatten() {
            let Some(filter) = substitute(&rule.filter, user, client_id) else {
                continue;
            };
            if rule.access.reads() {
                grants.read.push(filter.clone());
            }
            if rule.access.writes() {
                grants.write.push(filter);
            }
        }
        grants
    }
}

fn parse_rule(rest: &str, line_no: usize) -> Result<Rule, AuthError> {
    let (access, filter) = match rest.split_once(char::is_whitespace) {
        Some(("read", filter)) => (Access::Read, filter.trim()),
        Some(("write", filter)) => (Access::Write, filter.trim()),
        Some(("readwrite", filter)) => (Access::ReadWrite, filter.trim()),
        _ if matches!(rest, "read" | "write" | "readwrite") => (Access::ReadWrite, ""),
        _ => (Access::ReadWrite, rest),
    };
    if filter.is_empty() {
        return Err(AuthError::line(line_no, "a rule needs a topic"));
    }
    // Checked with %u and %c replaced by a name, as the filter will be used.
    let example = filter.replace("%u", "u").replace("%c", "c");
    if let Err(error) = topic::validate_topic_filter(&example) {
        return Err(AuthError::line(line_no, format!("{filter:?}: {error}")));
    }
    Ok(Rule {
        access,
        filter: filter.to_owned(),
    })
}

/// `filter` with `%u` and `%c` filled in; `None` when a needed value is
/// missing or would change the filter's shape.
fn substitute(filter: &str, user: Option<&str>, client_id: &str) -> Option<String> {
    let safe = |value: &str| !value.is_empty() && !value.contains(['+', '#', '/']);
    let mut out = filter.to_owned();
    if out.contains("%u") {
        let user = user.filter(|u| safe(u))?;
        out = out.replace("%u", user);
    }
    if out.contains("%c") {
        if !safe(client_id) {
            return None;
        }
        out = out.replace("%c", client_id);
    }
    Some(out)
}

/// What one connection may publish and read: topic filters with `%u`/`%c`
/// already filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    read: Vec<String>,
    write: Vec<String>,
}

/// The answer to a SUBSCRIBE, per filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeVerdict {
    /// Every topic the filter matches may be read: deliveries need no check.
    Allowed,
    /// Some topics it matches may be read: each delivery is checked.
    Filtered,
    /// None may be read: SUBACK refuses it.
    Denied,
}

impl Grants {
    /// Whether a PUBLISH to `topic` is allowed.
    pub fn may_publish(&self, topic: &str) -> bool {
        self.write
            .iter()
            .any(|filter| topic::matches(filter, topic))
    }

    /// Whether a message on `topic` may be delivered.
    pub fn may_read(&self, topic: &str) -> bool {
        self.read.iter().any(|filter| topic::matches(filter, topic))
    }

    /// How a subscription to `filter` (without any `$share/group/` prefix) is treated.
    pub fn subscription(&self, filter: &str) -> SubscribeVerdict {
        if self.read.iter().any(|allowed| covers(allowed, filter)) {
            SubscribeVerdict::Allowed
        } else if self.read.iter().any(|allowed| overlaps(allowed, filter)) {
            SubscribeVerdict::Filtered
        } else {
            SubscribeVerdict::Denied
        }
    }
}

/// Whether `$`-topics may match under `filter` only through a wildcard first
/// level, which MQTT forbids (3.1.1 §4.7.2): then the two cannot share them.
fn dollar_mismatch(a: &str, b: &str) -> bool {
    let first = |f: &str| f.split('/').next().unwrap_or_default().to_owned();
    let (fa, fb) = (first(a), first(b));
    let wild = |l: &str| l == "+" || l == "#";
    (fa.starts_with('$') && wild(&fb)) || (fb.starts_with('$') && wild(&fa))
}

/// Whether every topic `inner` matches is matched by `outer` too.
pub fn covers(outer: &str, inner: &str) -> bool {
    if dollar_mismatch(outer, inner) {
        return false;
    }
    let mut outer_levels = outer.split('/');
    let mut inner_levels = inner.split('/');
    loop {
        match (outer_levels.next(), inner_levels.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(o), Some(i)) if o == i && i != "+" => {}
            // `a/#` also matches `a`: an inner filter ending where the outer has `#` left.
            (Some(o), None) => return o == "#" && outer_levels.next().is_none(),
            _ => return false,
        }
    }
}

/// Whether some topic is matched by both filters.
pub fn overlaps(a: &str, b: &str) -> bool {
    if dollar_mismatch(a, b) {
        return false;
    }
    let mut a_levels = a.split('/');
    let mut b_levels = b.split('/');
    loop {
        match (a_levels.next(), b_levels.next()) {
            (Some("#"), _) | (_, Some("#")) | (None, None) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(x), Some(y)) if x == y => {}
            (None, Some(rest)) => return rest == "#" && b_levels.next().is_none(),
            (Some(rest), None) => return rest == "#" && a_levels.next().is_none(),
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const FILE: &str = "\
# anonymous
topic read public/#

user alice
topic readwrite home/#
topic write   alerts

client kitchen
topic write sensors/kitchen/+

pattern readwrite users/%u/#
pattern write devices/%c/status
";

    #[test]
    fn sections_and_patterns_apply_to_the_right_clients() {
        let acl = Acl::parse(FILE).unwrap();
        let anon = acl.grants(None, "x");
        assert!(anon.may_read("public/news"));
        assert!(!anon.may_publish("public/news"));
        assert!(!anon.may_read("home/lamp"));
        assert!(anon.may_publish("devices/x/status"));
        assert!(
            !anon.may_read("users/x/a"),
            "%u does not apply without a user"
        );

        let alice = acl.grants(Some("alice"), "phone");
        assert!(alice.may_publish("home/lamp") && alice.may_read("home/lamp"));
        assert!(alice.may_publish("alerts") && !alice.may_read("alerts"));
        assert!(
            !alice.may_read("public/news"),
            "anonymous rules are not alice's"
        );
        assert!(alice.may_read("users/alice/inbox"));
        assert!(!alice.may_read("users/bob/inbox"));
        assert!(alice.may_publish("devices/phone/status"));
        assert!(!alice.may_publish("devices/other/status"));

        let kitchen = acl.grants(Some("bob"), "kitchen");
        assert!(kitchen.may_publish("sensors/kitchen/temp"));
        assert!(!kitchen.may_publish("sensors/hall/temp"));
    }

    #[test]
    fn names_with_wildcards_or_slashes_do_not_widen_patterns() {
        let acl = Acl::parse("pattern readwrite users/%u/#\npattern read c/%c\n").unwrap();
        assert!(!acl.grants(Some("#"), "a").may_read("users/x/y"));
        assert!(!acl.grants(Some("a/b"), "a").may_read("users/a/b/c"));
        assert!(!acl.grants(None, "+").may_read("c/z"));
        assert!(acl.grants(None, "z").may_read("c/z"));
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, line) in [
            ("topic read a/#\nbogus x\n", 2),
            ("user\n", 1),
            ("\n\ntopic read a/#/b\n", 3),
            ("topic read\n", 1),
        ] {
            let message = Acl::parse(text).unwrap_err().to_string();
            assert!(message.contains(&format!("line {line}")), "{message}");
        }
        // Access may be left out: readwrite.
        let acl = Acl::parse("topic a/b\n").unwrap();
        let g = acl.grants(None, "c");
        assert!(g.may_read("a/b") && g.may_publish("a/b"));
    }

    #[test]
    fn subscription_verdicts() {
        let acl = Acl::parse("topic read home/+/temp\ntopic read pub/#\n").unwrap();
        let g = acl.grants(None, "c");
        assert_eq!(
            g.subscription("home/kitchen/temp"),
            SubscribeVerdict::Allowed
        );
        assert_eq!(g.subscription("home/+/temp"), SubscribeVerdict::Allowed);
        assert_eq!(g.subscription("pub"), SubscribeVerdict::Allowed);
        assert_eq!(g.subscription("pub/#"), SubscribeVerdict::Allowed);
        assert_eq!(g.subscription("home/#"), SubscribeVerdict::Filtered);
        assert_eq!(g.subscription("#"), SubscribeVerdict::Filtered);
        assert_eq!(
            g.subscription("home/kitchen/humidity"),
            SubscribeVerdict::Denied
        );
        assert_eq!(g.subscription("garden/#"), SubscribeVerdict::Denied);
        assert_eq!(g.subscription("$SYS/#"), SubscribeVerdict::Denied);
        assert_eq!(
            Grants::default().subscription("#"),
            SubscribeVerdict::Denied
        );
    }

    fn filter() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "$x", "", "+"]), 1..4)
            .prop_flat_map(|levels| {
                (Just(levels), any::<bool>()).prop_map(|(mut levels, hash)| {
                    if hash {
                        levels.push("#");
                    }
                    levels.join("/")
                })
            })
    }

    fn topic_name() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "$x", ""]), 1..5)
            .prop_map(|levels| levels.join("/"))
    }

    proptest! {
        /// `covers` never claims more than `matches` shows, and `overlaps`
        /// never misses a topic both filters match.
        #[test]
        fn covers_and_overlaps_agree_with_matches(
            outer in filter(), inner in filter(), topic in topic_name()
        ) {
            let in_inner = topic::matches(&inner, &topic);
            let in_outer = topic::matches(&outer, &topic);
            if covers(&outer, &inner) && in_inner {
                prop_assert!(in_outer, "{outer} covers {inner} but not {topic}");
            }
            if in_inner && in_outer {
                prop_assert!(overlaps(&outer, &inner), "{outer} and {inner} share {topic}");
            }
        }
    }
}
