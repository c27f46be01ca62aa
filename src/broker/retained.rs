//! Retained messages, indexed by topic for wildcard lookup.
//!
//! The broker keeps the last retained message of each topic and sends the matching ones to
//! every new subscription (MQTT 3.1.1 §3.3.1.3). The store is a trie with one node per topic
//! level, so that a wildcard SUBSCRIBE walks only the matching branches (`home/+/temp` visits
//! the children of `home` and one grandchild each) instead of testing every retained message.
//!
//! Full topics are not stored: the visits rebuild them level by level in one buffer, so a
//! topic's text is held once, shared with its siblings' prefixes. Removing a message prunes the
//! nodes it leaves empty. Topics must have been validated by `protocol::topic`, which bounds
//! their depth: the store walks them recursively.

use std::collections::HashMap;
use std::str::Split;

/// The retained message of each topic that has one.
///
/// `M` is whatever the broker retains (typically a shared, reference-counted publication); the
/// store only files it by topic.
#[derive(Debug)]
pub struct RetainedStore<M> {
    root: Node<M>,
    /// Number of retained messages, kept so that `len` is O(1).
    len: usize,
}

/// One topic level: its children and the message retained for the topic ending here.
#[derive(Debug)]
struct Node<M> {
    children: HashMap<Box<str>, Node<M>>,
    message: Option<M>,
}

impl<M> RetainedStore<M> {
    /// An empty store, for a broker that has just started.
    pub fn new() -> Self {
        Self {
            root: Node::default(),
            len: 0,
        }
    }

    /// Retains `message` for `topic` (a valid topic name), as a PUBLISH with the RETAIN flag and
    /// a non-empty payload asks; returns the message it replaces.
    pub fn insert(&mut self, topic: &str, message: M) -> Option<M> {
        // Sensors re-publish the same retained topics: walking the existing nodes first makes
        // the replacement allocation-free.
        if let Some(node) = self.root.find_mut(topic) {
            let previous = node.message.replace(message);
            if previous.is_none() {
                self.len += 1;
            }
            return previous;
        }
        self.root.create(topic).message = Some(message);
        self.len += 1;
        None
    }

    /// Drops the message retained for `topic`, as a retained PUBLISH with an empty payload asks
    /// (MQTT 3.1.1 §3.3.1.3); returns it. Nodes left empty are pruned.
    pub fn remove(&mut self, topic: &str) -> Option<M> {
        let removed = self.root.remove(topic.split('/'))?;
        self.len -= 1;
        Some(removed)
    }

    /// The message retained for exactly `topic`, if any.
    pub fn get(&self, topic: &str) -> Option<&M> {
        let mut node = &self.root;
        for level in topic.split('/') {
            node = node.children.get(level)?;
        }
        node.message.as_ref()
    }

    /// Calls `visit(topic, &message)` for every retained message whose topic matches `filter`
    /// (a valid, non-shared topic filter), to send them to a new subscription.
    ///
    /// Topics starting with `$` are not matched by a filter starting with a wildcard
    /// (MQTT 3.1.1 §4.7.2). The order of visits is unspecified. Allocates one buffer per call
    /// to rebuild the topics in.
    pub fn for_each_matching(&self, filter: &str, mut visit: impl FnMut(&str, &M)) {
        let mut topic = String::new();
        self.root
            .visit_matching(Some(filter), true, &mut topic, &mut visit);
    }

    /// Number of retained messages, for statistics, `$SYS` and a configured limit.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no message is retained.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps only the messages for which `keep(topic, &message)` is true, pruning the nodes left
    /// empty: how expired messages (MQTT 5 Message Expiry Interval) are dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &M) -> bool) {
        let mut topic = String::new();
        let mut removed = 0;
        self.root.retain(true, &mut topic, &mut keep, &mut removed);
        self.len -= removed;
    }

    /// Nodes below the root: zero once every message is removed, or pruning leaks.
    #[cfg(test)]
    fn node_count(&self) -> usize {
        self.root.node_count() - 1
    }
}

impl<M> Default for RetainedStore<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> Default for Node<M> {
    fn default() -> Self {
        Self {
            children: HashMap::new(),
            message: None,
        }
    }
}

impl<M> Node<M> {
    /// The node for `topic` below this one, if it exists.
    fn find_mut(&mut self, topic: &str) -> Option<&mut Self> {
        let mut node = self;
        for level in topic.split('/') {
            node = node.children.get_mut(level)?;
        }
        Some(node)
    }

    /// The node for `topic` below this one, creating the missing nodes on its path.
    fn create(&mut self, topic: &str) -> &mut Self {
        let mut node = self;
        for level in topic.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        node
    }

    /// Removes the message of the topic whose remaining levels are `levels`, pruning the
    /// children it leaves empty on the way back up.
    fn remove(&mut self, mut levels: Split<'_, char>) -> Option<M> {
        let Some(level) = levels.next() else {
            return self.message.take();
        };
        let child = self.children.get_mut(level)?;
        let removed = child.remove(levels);
        if child.is_empty() {
            self.children.remove(level);
        }
        removed
    }

    /// Visits the messages below this node matching `rest`, the filter levels this node has
    /// not consumed (`None` once the filter ends here). `topic` holds this node's topic.
    fn visit_matching<F>(
        &self,
        rest: Option<&str>,
        at_root: bool,
        topic: &mut String,
        visit: &mut F,
    ) where
        F: FnMut(&str, &M),
    {
        let Some(rest) = rest else {
            if let Some(message) = &self.message {
                visit(topic, message);
            }
            return;
        };
        let (level, rest) = match rest.split_once('/') {
            Some((level, rest)) => (level, Some(rest)),
            None => (rest, None),
        };
        match level {
            // `#` matches its parent level too (MQTT 3.1.1 §4.7.1.2).
            "#" => self.visit_all(at_root, topic, visit),
            "+" => {
                for (name, child) in self.wildcard_children(at_root) {
                    let mark = push_level(topic, name, at_root);
                    child.visit_matching(rest, false, topic, visit);
                    topic.truncate(mark);
                }
            }
            _ => {
                if let Some(child) = self.children.get(level) {
                    let mark = push_level(topic, level, at_root);
                    child.visit_matching(rest, false, topic, visit);
                    topic.truncate(mark);
                }
            }
        }
    }

    /// Visits this node's message and every message below it.
    fn visit_all<F>(&self, at_root: bool, topic: &mut String, visit: &mut F)
    where
        F: FnMut(&str, &M),
    {
        if let Some(message) = &self.message {
            visit(topic, message);
        }
        for (name, child) in self.wildcard_children(at_root) {
            let mark = push_level(topic, name, at_root);
            child.visit_all(false, topic, visit);
            topic.truncate(mark);
        }
    }

    /// The children a wildcard level may enter: at the root, not the `$` ones
    /// (MQTT 3.1.1 §4.7.2).
    fn wildcard_children(&self, at_root: bool) -> impl Iterator<Item = (&str, &Self)> {
        self.children
            .iter()
            .map(|(name, child)| (&**name, child))
            .filter(move |(name, _)| !(at_root && name.starts_with('$')))
    }

    /// Drops the messages below this node that `keep` refuses, and the nodes left empty;
    /// counts the drops in `removed`.
    fn retain<F>(&mut self, at_root: bool, topic: &mut String, keep: &mut F, removed: &mut usize)
    where
        F: FnMut(&str, &M) -> bool,
    {
        if self
            .message
            .as_ref()
            .is_some_and(|message| !keep(topic, message))
        {
            self.message = None;
            *removed += 1;
        }
        self.children.retain(|name, child| {
            let mark = push_level(topic, name, at_root);
            child.retain(false, topic, keep, removed);
            topic.truncate(mark);
            !child.is_empty()
        });
    }

    /// Whether the node holds nothing and can be pruned.
    fn is_empty(&self) -> bool {
        self.message.is_none() && self.children.is_empty()
    }

    #[cfg(test)]
    fn node_count(&self) -> usize {
        1 + self.children.values().map(Node::node_count).sum::<usize>()
    }
}

/// Appends `level` to the topic being rebuilt; returns the length to truncate back to.
/// The first level has no separator before it, even when it is empty (`/a`).
fn push_level(topic: &mut String, level: &str, at_root: bool) -> usize {
    let mark = topic.len();
    if !at_root {
        topic.push('/');
    }
    topic.push_str(level);
    mark
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::topic::strategies::{topic_filter, topic_name};
    use crate::protocol::topic::{MAX_TOPIC_LEVELS, matches};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The (topic, message) pairs `filter` retrieves, sorted.
    fn matching<M: Clone + Ord>(store: &RetainedStore<M>, filter: &str) -> Vec<(String, M)> {
        let mut found = Vec::new();
        store.for_each_matching(filter, |topic, message| {
            found.push((topic.to_owned(), message.clone()));
        });
        found.sort();
        found
    }

    /// The topics `filter` retrieves, sorted.
    fn topics<M: Clone + Ord>(store: &RetainedStore<M>, filter: &str) -> Vec<String> {
        matching(store, filter)
            .into_iter()
            .map(|(topic, _)| topic)
            .collect()
    }

    fn store_of(topics: &[&str]) -> RetainedStore<usize> {
        let mut store = RetainedStore::new();
        for (index, topic) in topics.iter().enumerate() {
            store.insert(topic, index);
        }
        store
    }

    #[test]
    fn insert_get_replace_remove() {
        let mut store = RetainedStore::new();
        assert!(store.is_empty());
        assert_eq!(store.insert("home/kitchen/temp", 20), None);
        assert_eq!(store.insert("home/kitchen/temp", 21), Some(20));
        assert_eq!(store.insert("home", 1), None);
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("home/kitchen/temp"), Some(&21));
        assert_eq!(store.get("home"), Some(&1));
        assert_eq!(store.get("home/kitchen"), None);
        assert_eq!(store.get("home/kitchen/temp/x"), None);
        assert_eq!(store.remove("home/kitchen"), None);
        assert_eq!(store.remove("home/kitchen/temp"), Some(21));
        assert_eq!(store.remove("home/kitchen/temp"), None);
        assert_eq!(store.len(), 1);
        assert_eq!(store.node_count(), 1);
        assert_eq!(store.remove("home"), Some(1));
        assert!(store.is_empty());
        assert_eq!(store.node_count(), 0);
    }

    #[test]
    fn wildcards_visit_matching_topics_with_their_full_names() {
        let store = store_of(&[
            "home/kitchen/temp",
            "home/hall/temp",
            "home/hall/humidity",
            "home",
            "garden/temp",
        ]);
        assert_eq!(
            matching(&store, "home/+/temp"),
            [
                ("home/hall/temp".to_owned(), 1),
                ("home/kitchen/temp".to_owned(), 0)
            ]
        );
        assert_eq!(
            topics(&store, "home/#"),
            [
                "home",
                "home/hall/humidity",
                "home/hall/temp",
                "home/kitchen/temp"
            ]
        );
        assert_eq!(topics(&store, "+/temp"), ["garden/temp"]);
        assert_eq!(topics(&store, "+"), ["home"]);
        assert_eq!(topics(&store, "#").len(), 5);
        assert_eq!(topics(&store, "home/hall"), [""; 0]);
        assert_eq!(topics(&store, "garden/temp"), ["garden/temp"]);
    }

    #[test]
    fn dollar_topics_skip_leading_wildcards() {
        // MQTT 3.1.1 §4.7.2
        let store = store_of(&["$SYS/broker/uptime", "$SYS", "a/$x"]);
        assert_eq!(topics(&store, "#"), ["a/$x"]);
        assert_eq!(topics(&store, "+"), [""; 0]);
        assert_eq!(topics(&store, "+/broker/uptime"), [""; 0]);
        assert_eq!(topics(&store, "$SYS/#"), ["$SYS", "$SYS/broker/uptime"]);
        assert_eq!(topics(&store, "$SYS/+/uptime"), ["$SYS/broker/uptime"]);
        assert_eq!(topics(&store, "a/+"), ["a/$x"]);
    }

    #[test]
    fn empty_levels_are_rebuilt() {
        let store = store_of(&["/", "/a", "a//b", "a/"]);
        assert_eq!(topics(&store, "#"), ["/", "/a", "a/", "a//b"]);
        assert_eq!(topics(&store, "+/+"), ["/", "/a", "a/"]);
        assert_eq!(topics(&store, "a/+/b"), ["a//b"]);
        assert_eq!(topics(&store, "/#"), ["/", "/a"]);
    }

    #[test]
    fn remove_keeps_what_other_topics_need() {
        let mut store = store_of(&["a/b/c", "a/b/d", "a"]);
        assert_eq!(store.node_count(), 4);
        assert_eq!(store.remove("a/b/c"), Some(0));
        assert_eq!(store.node_count(), 3);
        assert_eq!(store.remove("a"), Some(2));
        assert_eq!(store.node_count(), 3);
        assert_eq!(topics(&store, "#"), ["a/b/d"]);
        assert_eq!(store.remove("a/b/d"), Some(1));
        assert_eq!(store.node_count(), 0);
    }

    #[test]
    fn retain_drops_refused_messages_and_prunes() {
        let mut store = store_of(&["a/b", "a/c", "a", "x/y/z"]);
        let mut asked = Vec::new();
        store.retain(|topic, &message| {
            asked.push(topic.to_owned());
            message == 1
        });
        asked.sort();
        assert_eq!(asked, ["a", "a/b", "a/c", "x/y/z"]);
        assert_eq!(store.len(), 1);
        assert_eq!(topics(&store, "#"), ["a/c"]);
        assert_eq!(store.node_count(), 2);
        store.retain(|_, _| false);
        assert!(store.is_empty());
        assert_eq!(store.node_count(), 0);
    }

    #[test]
    fn the_deepest_valid_topics_work() {
        let topic = vec!["a"; MAX_TOPIC_LEVELS].join("/");
        let plus = vec!["+"; MAX_TOPIC_LEVELS].join("/");
        let mut store = RetainedStore::new();
        store.insert(&topic, ());
        assert_eq!(topics(&store, "#"), [topic.as_str()]);
        assert_eq!(topics(&store, &plus), [topic.as_str()]);
        store.retain(|_, _| true);
        assert_eq!(store.remove(&topic), Some(()));
        assert_eq!(store.node_count(), 0);
    }

    /// Checks `for_each_matching` against `matches` over the model of the store.
    fn check_against_reference(
        store: &RetainedStore<u32>,
        model: &BTreeMap<String, u32>,
        filter: &str,
    ) -> Result<(), TestCaseError> {
        let expected: Vec<_> = model
            .iter()
            .filter(|(topic, _)| matches(filter, topic))
            .map(|(topic, message)| (topic.clone(), *message))
            .collect();
        prop_assert_eq!(matching(store, filter), expected, "filter {}", filter);
        Ok(())
    }

    proptest! {
        #[test]
        fn matching_agrees_with_the_reference(
            topics in prop::collection::vec(topic_name(), 0..24),
            filters in prop::collection::vec(topic_filter(), 1..8),
        ) {
            let mut store = RetainedStore::new();
            let mut model = BTreeMap::new();
            for (message, topic) in (0u32..).zip(topics) {
                store.insert(&topic, message);
                model.insert(topic, message);
            }
            prop_assert_eq!(store.len(), model.len());
            for filter in &filters {
                check_against_reference(&store, &model, filter)?;
            }
        }

        #[test]
        fn inserts_removes_and_retain_follow_a_model_and_leave_nothing(
            pool in prop::collection::vec(topic_name(), 1..8),
            ops in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 0..60),
            filters in prop::collection::vec(topic_filter(), 1..6),
        ) {
            let mut store = RetainedStore::new();
            let mut model = BTreeMap::new();
            for (message, (insert, topic)) in (0u32..).zip(ops) {
                let topic = topic.get(&pool);
                if insert {
                    prop_assert_eq!(store.insert(topic, message), model.insert(topic.clone(), message));
                } else {
                    prop_assert_eq!(store.remove(topic), model.remove(topic));
                }
                prop_assert_eq!(store.get(topic), model.get(topic));
                prop_assert_eq!(store.len(), model.len());
            }
            for filter in &filters {
                check_against_reference(&store, &model, filter)?;
            }
            store.retain(|_, message| message % 2 == 0);
            model.retain(|_, message| *message % 2 == 0);
            prop_assert_eq!(store.len(), model.len());
            for filter in &filters {
                check_against_reference(&store, &model, filter)?;
            }
            for topic in model.keys() {
                prop_assert!(store.remove(topic).is_some());
            }
            prop_assert!(store.is_empty());
            prop_assert_eq!(store.node_count(), 0);
        }
    }
}
