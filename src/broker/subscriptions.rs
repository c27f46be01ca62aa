//! The subscription tree: which sessions match a topic.
//!
//! A trie with one node per filter level. Matching a publication walks the topic's levels once,
//! following at each node the child for the literal level and the `+` child, and collecting the
//! subscribers of the `#` slot on the way; the cost grows with the topic's depth and the number
//! of wildcard branches it meets, not with the number of subscriptions, and a match allocates
//! nothing. Subscribing and unsubscribing allocate at most one node per level, and unsubscribing
//! prunes the nodes it leaves empty, so memory follows the live subscriptions, not the churn.
//!
//! The tree is generic over the session key `K` and the subscription options `V`, so it knows
//! nothing of sessions or packets and is tested on its own.
//!
//! # Shared subscriptions (MQTT 5.0 §4.8.2)
//!
//! A shared subscription is identified by its group *and* its filter: `$share/g/a/+` and
//! `$share/g/a/#` are two shared subscriptions. A publication is delivered once per matching
//! (group, filter) pair, to one member chosen round-robin; a topic matching both filters above
//! is delivered twice to group `g`, possibly to two members, as the specification reads and
//! Mosquitto does.
//!
//! Filters given to this tree must have been validated by `protocol::topic`
//! (`parse_subscription`), which bounds their depth: the tree walks them recursively.

use std::collections::HashMap;
use std::hash::Hash;
use std::mem;
use std::str::Split;

/// Every subscription in the broker, indexed for matching publications against it.
///
/// `K` is the subscriber's session key (small and `Copy`); `V` holds whatever the caller needs
/// per subscription (QoS, no-local, subscription identifier, …) and is handed back on a match.
#[derive(Debug)]
pub struct SubscriptionTree<K, V> {
    root: Node<K, V>,
    /// Number of (group, filter, key) subscriptions, kept so that `len` is O(1).
    len: usize,
}

/// One filter level: its children and the subscriptions whose filter ends here.
#[derive(Debug)]
struct Node<K, V> {
    /// Children by literal level. `Box<str>` rather than `String`: keys never grow.
    children: HashMap<Box<str>, Node<K, V>>,
    /// The `+` child, kept apart so that matching reaches it without hashing.
    single_level: Option<Box<Node<K, V>>>,
    /// Subscriptions to this node's path followed by `/#` (or to `#` at the root). `#` is
    /// always the last level, so it needs a subscriber set, not a node.
    multi_level: Subscribers<K, V>,
    /// Subscriptions whose filter ends at this node.
    exact: Subscribers<K, V>,
}

/// The subscriptions to one filter.
///
/// Vectors, not maps: a filter usually has a handful of subscribers, where scanning `Copy` keys
/// beats hashing them and costs less memory. Subscribing to a filter that already has `n`
/// subscribers costs O(n).
#[derive(Debug)]
struct Subscribers<K, V> {
    /// Ordinary subscriptions.
    plain: Vec<(K, V)>,
    /// Shared subscription groups on this filter.
    groups: Vec<Group<K, V>>,
}

/// A shared subscription group on one filter, never empty (MQTT 5.0 §4.8.2).
#[derive(Debug)]
struct Group<K, V> {
    name: Box<str>,
    /// Members in subscription order, the order the round-robin follows.
    members: Vec<(K, V)>,
    /// Index in `members` of the member to try first for the next publication.
    next: usize,
}

impl<K: Copy + Eq + Hash, V> SubscriptionTree<K, V> {
    /// An empty tree, for a broker that has just started.
    pub fn new() -> Self {
        Self {
            root: Node::default(),
            len: 0,
        }
    }

    /// Adds or replaces `key`'s subscription to `filter` (already validated, share group
    /// already split off by `parse_subscription`).
    ///
    /// Returns the previous value if `key` was already subscribed to that exact
    /// (group, filter): a repeated SUBSCRIBE replaces the subscription (MQTT 3.1.1 §3.8.4), and
    /// the caller may need the old options (MQTT 5 retain handling 1 sends retained messages
    /// only for a new subscription).
    pub fn insert(&mut self, group: Option<&str>, filter: &str, key: K, value: V) -> Option<V> {
        let previous = self.root.slot_or_insert(filter).insert(group, key, value);
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Removes `key`'s subscription to (group, filter), as UNSUBSCRIBE and session end do;
    /// returns the removed value, or `None` if there was no such subscription.
    ///
    /// Nodes left empty are pruned, so memory does not grow with subscription churn.
    pub fn remove(&mut self, group: Option<&str>, filter: &str, key: K) -> Option<V> {
        let removed = self.root.remove(filter.split('/'), group, key)?;
        self.len -= 1;
        Some(removed)
    }

    /// Calls `visit(key, &value)` for each subscription matching `topic` (a valid topic name),
    /// to fan a publication out.
    ///
    /// Every ordinary subscription is visited; each shared group is visited once per matching
    /// filter, for one member chosen round-robin among those for which `available(key)` holds
    /// (an online session with room in its queue, say), or round-robin among all members if
    /// none is available, so that the message is queued rather than lost. A key subscribed
    /// through several overlapping filters is visited once per filter: the caller aggregates
    /// (MQTT 3.1.1 §3.3.5 lets it deliver once, at the highest QoS). Topics starting with `$`
    /// are not matched by filters starting with a wildcard (MQTT 3.1.1 §4.7.2). The order of
    /// visits is unspecified.
    ///
    /// Takes `&mut self` because the round-robin cursors advance.
    pub fn for_each_match(
        &mut self,
        topic: &str,
        available: impl Fn(K) -> bool,
        mut visit: impl FnMut(K, &V),
    ) {
        let wildcards = !topic.starts_with('$');
        self.root
            .collect(Some(topic), wildcards, &available, &mut visit);
    }

    /// Number of (group, filter, key) subscriptions, for statistics and `$SYS`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no subscription at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nodes below the root: zero once every subscription is removed, or pruning leaks.
    #[cfg(test)]
    fn node_count(&self) -> usize {
        self.root.node_count() - 1
    }
}

impl<K: Copy + Eq + Hash, V> Default for SubscriptionTree<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> Default for Node<K, V> {
    fn default() -> Self {
        Self {
            children: HashMap::new(),
            single_level: None,
            multi_level: Subscribers::default(),
            exact: Subscribers::default(),
        }
    }
}

impl<K: Copy + Eq + Hash, V> Node<K, V> {
    /// The subscriber set for `filter` below this node, creating the nodes on its path.
    fn slot_or_insert(&mut self, filter: &str) -> &mut Subscribers<K, V> {
        let mut node = self;
        for level in filter.split('/') {
            node = match level {
                "#" => return &mut node.multi_level,
                "+" => node.single_level.get_or_insert_with(Box::default),
                // `entry` wants an owned key even when the node exists; one small allocation
                // per level is fine on SUBSCRIBE, which is not the hot path.
                _ => node.children.entry(level.into()).or_default(),
            };
        }
        &mut node.exact
    }

    /// Removes one subscription from the filter whose remaining levels are `levels`, pruning
    /// the children it leaves empty on the way back up.
    fn remove(&mut self, mut levels: Split<'_, char>, group: Option<&str>, key: K) -> Option<V> {
        let Some(level) = levels.next() else {
            return self.exact.remove(group, key);
        };
        match level {
            "#" => self.multi_level.remove(group, key),
            "+" => {
                let child = self.single_level.as_deref_mut()?;
                let removed = child.remove(levels, group, key);
                if child.is_empty() {
                    self.single_level = None;
                }
                removed
            }
            _ => {
                let child = self.children.get_mut(level)?;
                let removed = child.remove(levels, group, key);
                if child.is_empty() {
                    self.children.remove(level);
                }
                removed
            }
        }
    }

    /// Visits the subscriptions below this node matching `rest`, the topic levels this node has
    /// not consumed (`None` once the topic ends here). `wildcards` is false only at the root
    /// for a `$` topic.
    fn collect<A, F>(&mut self, rest: Option<&str>, wildcards: bool, available: &A, visit: &mut F)
    where
        A: Fn(K) -> bool,
        F: FnMut(K, &V),
    {
        // `#` matches its parent level too, so it matches whether or not the topic ends here.
        if wildcards {
            self.multi_level.visit(available, visit);
        }
        let Some(rest) = rest else {
            self.exact.visit(available, visit);
            return;
        };
        let (level, rest) = match rest.split_once('/') {
            Some((level, rest)) => (level, Some(rest)),
            None => (rest, None),
        };
        if let Some(child) = self.children.get_mut(level) {
            child.collect(rest, true, available, visit);
        }
        if wildcards {
            if let Some(child) = self.single_level.as_deref_mut() {
                child.collect(rest, true, available, visit);
            }
        }
    }

    /// Whether the node holds nothing and can be pruned.
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.single_level.is_none()
            && self.multi_level.is_empty()
            && self.exact.is_empty()
    }

    #[cfg(test)]
    fn node_count(&self) -> usize {
        1 + self.children.values().map(Node::node_count).sum::<usize>()
            + self
                .single_level
                .as_ref()
                .map_or(0, |child| child.node_count())
    }
}

impl<K, V> Default for Subscribers<K, V> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            groups: Vec::new(),
        }
    }
}

impl<K: Copy + Eq, V> Subscribers<K, V> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.groups.is_empty()
    }

    /// Adds or replaces `key`'s subscription; returns the value it replaced.
    fn insert(&mut self, group: Option<&str>, key: K, value: V) -> Option<V> {
        let Some(name) = group else {
            return upsert(&mut self.plain, key, value);
        };
        if let Some(group) = self.groups.iter_mut().find(|group| &*group.name == name) {
            return upsert(&mut group.members, key, value);
        }
        self.groups.push(Group {
            name: name.into(),
            members: vec![(key, value)],
            next: 0,
        });
        None
    }

    /// Removes `key`'s subscription, and its group if it was the last member.
    fn remove(&mut self, group: Option<&str>, key: K) -> Option<V> {
        let Some(name) = group else {
            let index = self.plain.iter().position(|(member, _)| *member == key)?;
            return Some(self.plain.swap_remove(index).1);
        };
        let index = self.groups.iter().position(|group| &*group.name == name)?;
        let group = &mut self.groups[index];
        let removed = group.remove(key)?;
        if group.members.is_empty() {
            self.groups.swap_remove(index);
        }
        Some(removed)
    }

    /// Visits every ordinary subscription and one member of each group.
    fn visit<A, F>(&mut self, available: &A, visit: &mut F)
    where
        A: Fn(K) -> bool,
        F: FnMut(K, &V),
    {
        for (key, value) in &self.plain {
            visit(*key, value);
        }
        for group in &mut self.groups {
            if let Some((key, value)) = group.pick(available) {
                visit(*key, value);
            }
        }
    }
}

impl<K: Copy + Eq, V> Group<K, V> {
    /// Chooses the member for the next publication and advances the cursor past it: the first
    /// available member from the cursor on, else the member at the cursor.
    fn pick(&mut self, available: &impl Fn(K) -> bool) -> Option<&(K, V)> {
        let count = self.members.len();
        // `next` is kept below `count` by `remove`; the modulo only guards the arithmetic.
        let start = self.next.checked_rem(count)?;
        let chosen = (0..count)
            .map(|offset| (start + offset) % count)
            .find(|&index| {
                self.members
                    .get(index)
                    .is_some_and(|(key, _)| available(*key))
            })
            .unwrap_or(start);
        self.next = (chosen + 1) % count;
        self.members.get(chosen)
    }

    /// Removes `key`, keeping the order of the others so the rotation neither skips nor
    /// repeats a member.
    fn remove(&mut self, key: K) -> Option<V> {
        let index = self.members.iter().position(|(member, _)| *member == key)?;
        let (_, value) = self.members.remove(index);
        if index < self.next {
            self.next -= 1;
        }
        if self.next >= self.members.len() {
            self.next = 0;
        }
        Some(value)
    }
}

/// Replaces `key`'s value in `members`, or appends it; returns the value replaced.
fn upsert<K: Eq, V>(members: &mut Vec<(K, V)>, key: K, value: V) -> Option<V> {
    match members.iter_mut().find(|(member, _)| *member == key) {
        Some((_, slot)) => Some(mem::replace(slot, value)),
        None => {
            members.push((key, value));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::topic::strategies::{topic_filter, topic_name};
    use crate::protocol::topic::{MAX_TOPIC_LEVELS, matches};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// The keys visited for `topic`, sorted, all members available.
    fn keys_matching(tree: &mut SubscriptionTree<u8, ()>, topic: &str) -> Vec<u8> {
        let mut keys = Vec::new();
        tree.for_each_match(topic, |_| true, |key, ()| keys.push(key));
        keys.sort_unstable();
        keys
    }

    /// How many of `rounds` publications to `topic` each key receives.
    fn deliveries(
        tree: &mut SubscriptionTree<u8, ()>,
        topic: &str,
        rounds: usize,
        available: impl Fn(u8) -> bool,
    ) -> BTreeMap<u8, usize> {
        let mut counts = BTreeMap::new();
        for _ in 0..rounds {
            tree.for_each_match(topic, &available, |key, ()| {
                *counts.entry(key).or_default() += 1;
            });
        }
        counts
    }

    #[test]
    fn wildcards_match_like_the_specification() {
        let mut tree = SubscriptionTree::new();
        for (key, filter) in ["sport/tennis/+", "sport/#", "#", "+/+", "sport", "/+"]
            .into_iter()
            .enumerate()
        {
            tree.insert(None, filter, key as u8, ());
        }
        assert_eq!(keys_matching(&mut tree, "sport"), [1, 2, 4]);
        assert_eq!(keys_matching(&mut tree, "sport/tennis"), [1, 2, 3]);
        assert_eq!(keys_matching(&mut tree, "sport/tennis/player1"), [0, 1, 2]);
        assert_eq!(keys_matching(&mut tree, "sport/tennis/player1/x"), [1, 2]);
        assert_eq!(keys_matching(&mut tree, "/finance"), [2, 3, 5]);
        assert_eq!(keys_matching(&mut tree, "sport/"), [1, 2, 3]);
    }

    #[test]
    fn dollar_topics_skip_leading_wildcards() {
        // MQTT 3.1.1 §4.7.2
        let mut tree = SubscriptionTree::new();
        for (key, filter) in ["#", "+/monitor/Clients", "$SYS/#", "$SYS/monitor/+", "+"]
            .into_iter()
            .enumerate()
        {
            tree.insert(None, filter, key as u8, ());
        }
        assert_eq!(keys_matching(&mut tree, "$SYS/monitor/Clients"), [2, 3]);
        assert_eq!(keys_matching(&mut tree, "$SYS"), [2]);
        assert_eq!(keys_matching(&mut tree, "x/monitor/Clients"), [0, 1]);
    }

    #[test]
    fn overlapping_filters_visit_a_key_once_per_filter() {
        let mut tree = SubscriptionTree::new();
        tree.insert(None, "a/+", 7, ());
        tree.insert(None, "a/#", 7, ());
        tree.insert(None, "a/b", 7, ());
        assert_eq!(keys_matching(&mut tree, "a/b"), [7, 7, 7]);
        assert_eq!(tree.len(), 3);
    }

    #[test]
    fn insert_replaces_and_remove_returns_the_value() {
        let mut tree = SubscriptionTree::new();
        assert!(tree.is_empty());
        assert_eq!(tree.insert(None, "a/+", 1u8, "qos0"), None);
        assert_eq!(tree.insert(None, "a/+", 1, "qos1"), Some("qos0"));
        assert_eq!(tree.insert(Some("g"), "a/+", 1, "shared"), None);
        assert_eq!(tree.insert(None, "a/+", 2, "other"), None);
        assert_eq!(tree.len(), 3);
        let mut seen = Vec::new();
        tree.for_each_match("a/x", |_| true, |key, value| seen.push((key, *value)));
        seen.sort_unstable();
        assert_eq!(seen, [(1, "qos1"), (1, "shared"), (2, "other")]);

        assert_eq!(tree.remove(None, "a/+", 1), Some("qos1"));
        assert_eq!(tree.remove(None, "a/+", 1), None);
        assert_eq!(tree.remove(Some("h"), "a/+", 1), None);
        assert_eq!(tree.remove(Some("g"), "a/#", 1), None);
        assert_eq!(tree.remove(Some("g"), "a/+", 1), Some("shared"));
        assert_eq!(tree.remove(None, "a/+", 2), Some("other"));
        assert!(tree.is_empty());
        assert_eq!(tree.node_count(), 0);
    }

    #[test]
    fn remove_prunes_only_empty_nodes() {
        let mut tree = SubscriptionTree::new();
        tree.insert(None, "a/b/c", 1u8, ());
        tree.insert(None, "a/+/#", 2, ());
        tree.insert(None, "a", 3, ());
        assert_eq!(tree.node_count(), 4); // a, a/b, a/b/c, a/+
        assert_eq!(tree.remove(None, "a/b/c", 1), Some(()));
        assert_eq!(tree.node_count(), 2);
        assert_eq!(tree.remove(None, "a/+/#", 2), Some(()));
        assert_eq!(tree.node_count(), 1);
        assert_eq!(keys_matching(&mut tree, "a"), [3]);
        // Removing what is not there creates nothing.
        assert_eq!(tree.remove(None, "x/y/+/#", 3), None);
        assert_eq!(tree.node_count(), 1);
        assert_eq!(tree.remove(None, "a", 3), Some(()));
        assert_eq!(tree.node_count(), 0);
        assert!(tree.root.is_empty());
    }

    #[test]
    fn shared_group_is_served_round_robin() {
        let mut tree = SubscriptionTree::new();
        for key in 1..=3 {
            tree.insert(Some("g"), "sensors/+", key, ());
        }
        let counts = deliveries(&mut tree, "sensors/t", 300, |_| true);
        assert_eq!(counts, BTreeMap::from([(1, 100), (2, 100), (3, 100)]));
    }

    #[test]
    fn shared_group_skips_unavailable_members() {
        let mut tree = SubscriptionTree::new();
        for key in 1..=3 {
            tree.insert(Some("g"), "sensors/#", key, ());
        }
        let counts = deliveries(&mut tree, "sensors/t", 300, |key| key != 2);
        assert_eq!(counts, BTreeMap::from([(1, 150), (3, 150)]));
    }

    #[test]
    fn shared_group_with_no_available_member_still_rotates() {
        let mut tree = SubscriptionTree::new();
        for key in 1..=3 {
            tree.insert(Some("g"), "sensors/t", key, ());
        }
        let counts = deliveries(&mut tree, "sensors/t", 300, |_| false);
        assert_eq!(counts, BTreeMap::from([(1, 100), (2, 100), (3, 100)]));
    }

    #[test]
    fn leaving_a_shared_group_keeps_the_rotation() {
        let mut tree = SubscriptionTree::new();
        for key in 1..=4 {
            tree.insert(Some("g"), "t", key, ());
        }
        let mut order = Vec::new();
        for _ in 0..2 {
            tree.for_each_match("t", |_| true, |key, ()| order.push(key));
        }
        // The cursor is at member 3; removing an earlier and the current member.
        tree.remove(Some("g"), "t", 1);
        tree.remove(Some("g"), "t", 3);
        for _ in 0..3 {
            tree.for_each_match("t", |_| true, |key, ()| order.push(key));
        }
        assert_eq!(order, [1, 2, 4, 2, 4]);
        // Member 2 is served, the cursor moves to member 4, which leaves: the cursor wraps.
        tree.for_each_match("t", |_| true, |key, ()| assert_eq!(key, 2));
        tree.remove(Some("g"), "t", 4);
        assert_eq!(
            deliveries(&mut tree, "t", 2, |_| true),
            BTreeMap::from([(2, 2)])
        );
    }

    #[test]
    fn a_group_is_served_once_per_matching_filter() {
        let mut tree = SubscriptionTree::new();
        tree.insert(Some("g"), "a/+", 1u8, ());
        tree.insert(Some("g"), "a/+", 2, ());
        tree.insert(Some("g"), "a/#", 1, ());
        tree.insert(Some("h"), "a/+", 3, ());
        tree.insert(None, "a/+", 4, ());
        let mut visits = 0;
        tree.for_each_match("a/b", |_| true, |_, ()| visits += 1);
        // g on a/+, g on a/#, h on a/+, and the plain subscription.
        assert_eq!(visits, 4);
        assert_eq!(keys_matching(&mut tree, "b"), [0u8; 0]);
    }

    #[test]
    fn the_deepest_valid_filters_work() {
        let levels = MAX_TOPIC_LEVELS;
        let topic = vec!["a"; levels].join("/");
        let plus = vec!["+"; levels].join("/");
        let hash = format!("{}/#", vec!["a"; levels - 1].join("/"));
        let mut tree = SubscriptionTree::new();
        for (key, filter) in [&topic, &plus, &hash].into_iter().enumerate() {
            tree.insert(None, filter, key as u8, ());
        }
        assert_eq!(keys_matching(&mut tree, &topic), [0, 1, 2]);
        for (key, filter) in [&topic, &plus, &hash].into_iter().enumerate() {
            assert_eq!(tree.remove(None, filter, key as u8), Some(()));
        }
        assert_eq!(tree.node_count(), 0);
    }

    /// A subscription as the model sees it: (group, filter, key).
    type Sub = (Option<&'static str>, String, u8);

    /// Checks one publication against the model of subscriptions, with key 0 unavailable.
    fn check_against_reference(
        tree: &mut SubscriptionTree<u8, Sub>,
        model: &BTreeSet<Sub>,
        topic: &str,
    ) -> Result<(), TestCaseError> {
        let available = |key: u8| key != 0;
        let mut plain = Vec::new();
        let mut shared: BTreeMap<(&str, String), Vec<u8>> = BTreeMap::new();
        tree.for_each_match(topic, available, |key, (group, filter, owner)| {
            assert_eq!(key, *owner, "visited with the value of another key");
            match group {
                None => plain.push((filter.clone(), key)),
                Some(group) => shared
                    .entry((*group, filter.clone()))
                    .or_default()
                    .push(key),
            }
        });
        plain.sort();
        let expected_plain: Vec<_> = model
            .iter()
            .filter(|(group, filter, _)| group.is_none() && matches(filter, topic))
            .map(|(_, filter, key)| (filter.clone(), *key))
            .collect();
        prop_assert_eq!(plain, expected_plain, "plain subscribers of {}", topic);

        let mut expected_groups: BTreeMap<(&str, String), Vec<u8>> = BTreeMap::new();
        for (group, filter, key) in model {
            if let Some(group) = group {
                if matches(filter, topic) {
                    let members = expected_groups.entry((*group, filter.clone()));
                    members.or_default().push(*key);
                }
            }
        }
        prop_assert_eq!(
            shared.keys().collect::<Vec<_>>(),
            expected_groups.keys().collect::<Vec<_>>(),
            "groups served for {}",
            topic
        );
        for (pair, chosen) in &shared {
            let members = &expected_groups[pair];
            prop_assert_eq!(chosen.len(), 1, "one delivery per group and filter");
            prop_assert!(members.contains(&chosen[0]));
            if members.iter().any(|&key| available(key)) {
                prop_assert!(available(chosen[0]), "an available member is preferred");
            }
        }
        Ok(())
    }

    fn group() -> impl Strategy<Value = Option<&'static str>> {
        prop::option::of(prop::sample::select(&["g", "h"][..]))
    }

    proptest! {
        #[test]
        fn matching_agrees_with_the_reference(
            subscriptions in prop::collection::vec((group(), topic_filter(), 0u8..4), 0..24),
            topics in prop::collection::vec(topic_name(), 1..8),
        ) {
            let mut tree = SubscriptionTree::new();
            let mut model = BTreeSet::new();
            for (group, filter, key) in subscriptions {
                let sub = (group, filter.clone(), key);
                tree.insert(group, &filter, key, sub.clone());
                model.insert(sub);
            }
            prop_assert_eq!(tree.len(), model.len());
            for topic in &topics {
                check_against_reference(&mut tree, &model, topic)?;
            }
        }

        #[test]
        fn inserts_and_removes_follow_a_model_and_leave_nothing(
            filters in prop::collection::vec(topic_filter(), 1..6),
            ops in prop::collection::vec(
                (any::<bool>(), any::<prop::sample::Index>(), group(), 0u8..3),
                0..60,
            ),
            topics in prop::collection::vec(topic_name(), 1..6),
        ) {
            let mut tree = SubscriptionTree::new();
            let mut model = BTreeSet::new();
            for (insert, filter, group, key) in ops {
                let filter = filter.get(&filters).clone();
                let sub = (group, filter.clone(), key);
                if insert {
                    let previous = tree.insert(group, &filter, key, sub.clone());
                    prop_assert_eq!(previous.is_some(), !model.insert(sub));
                } else {
                    let removed = tree.remove(group, &filter, key);
                    prop_assert_eq!(removed.is_some(), model.remove(&sub));
                    if let Some(removed) = removed {
                        prop_assert_eq!(removed, sub);
                    }
                }
                prop_assert_eq!(tree.len(), model.len());
            }
            for topic in &topics {
                check_against_reference(&mut tree, &model, topic)?;
            }
            for (group, filter, key) in &model {
                prop_assert!(tree.remove(*group, filter, *key).is_some());
            }
            prop_assert_eq!(tree.len(), 0);
            prop_assert!(tree.is_empty());
            prop_assert_eq!(tree.node_count(), 0);
            prop_assert!(tree.root.is_empty());
        }
    }
}
