//! Topic ids: the predefined ones every client shares, each client's own
//! table of registered ids (both directions), and the tables kept for
//! persistent sessions between connections. Pure: no runtime, no clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytestring::ByteString;
use parking_lot::Mutex;

use crate::protocol::mqttsn::{ShortName, Topic, TopicId};

/// Most normal topic ids one client may hold; bounds the table's memory.
pub const MAX_TOPICS_PER_CLIENT: usize = 1024;

/// Persistent sessions whose topic tables are kept between connections.
pub const MAX_SAVED_TABLES: usize = 10_000;

/// One client's view of the predefined topic ids, both ways.
#[derive(Debug, Default)]
pub struct Predefined {
    by_id: BTreeMap<TopicId, ByteString>,
    by_name: HashMap<ByteString, TopicId>,
}

impl Predefined {
    /// The table from configuration (ids and names already validated).
    pub fn new(topics: &BTreeMap<u16, String>) -> Self {
        Self::merged(&BTreeMap::new(), topics)
    }

    /// `own` over `shared`: an id in both names `own`'s topic, and a topic
    /// in both is sent under `own`'s id.
    fn merged(own: &BTreeMap<u16, String>, shared: &BTreeMap<u16, String>) -> Self {
        let mut table = Self::default();
        for (id, name) in own.iter().chain(shared) {
            let name = ByteString::from(name.as_str());
            table.by_name.entry(name.clone()).or_insert(*id);
            table.by_id.entry(*id).or_insert(name);
        }
        table
    }

    /// The topic name of a predefined id.
    pub fn name(&self, id: TopicId) -> Option<&ByteString> {
        self.by_id.get(&id)
    }

    /// The predefined id of a topic name, if it has one.
    pub fn id(&self, name: &str) -> Option<TopicId> {
        self.by_name.get(name).copied()
    }
}

/// `[mqttsn.predefined_topics]` and its per-client overrides
/// (`[mqttsn.client_predefined_topics]`), each client's view built once.
#[derive(Debug, Default)]
pub struct PredefinedTopics {
    shared: Arc<Predefined>,
    by_client: HashMap<ByteString, Arc<Predefined>>,
}

impl PredefinedTopics {
    /// The tables from configuration (ids and names already validated).
    pub fn new(
        shared: &BTreeMap<u16, String>,
        by_client: &BTreeMap<String, BTreeMap<u16, String>>,
    ) -> Self {
        Self {
            shared: Arc::new(Predefined::new(shared)),
            by_client: by_client
                .iter()
                .map(|(client_id, own)| {
                    let view = Predefined::merged(own, shared);
                    (ByteString::from(client_id.as_str()), Arc::new(view))
                })
                .collect(),
        }
    }

    /// The ids every client has; all a QoS −1 publisher (no client id) has.
    pub fn shared(&self) -> &Arc<Predefined> {
        &self.shared
    }

    /// The ids `client_id` has.
    pub fn for_client(&self, client_id: &str) -> Arc<Predefined> {
        self.by_client
            .get(client_id)
            .unwrap_or(&self.shared)
            .clone()
    }
}

/// The topic name a short name stands for, if its two octets are UTF-8.
pub fn short_name(name: ShortName) -> Option<ByteString> {
    name.as_str().map(ByteString::from)
}

/// The topic a PUBLISH without a connection names (QoS −1, §6.8): only
/// predefined ids and short names are possible, since nothing was registered.
pub fn resolve_unregistered(topic: Topic, predefined: &Predefined) -> Option<ByteString> {
    match topic {
        Topic::Predefined(id) => predefined.name(id).cloned(),
        Topic::Short(name) => short_name(name),
        Topic::Normal(_) => None,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    name: ByteString,
    /// The client knows this id: it registered it, got it in a SUBACK, or
    /// acknowledged our REGISTER of it.
    known: bool,
}

/// One client's normal topic ids (§6.9, §6.10): ids from 1 up, one per name,
/// used in both directions.
#[derive(Debug, Clone, Default)]
pub struct TopicTable {
    by_id: HashMap<TopicId, Entry>,
    by_name: HashMap<ByteString, TopicId>,
    next_id: TopicId,
}

impl TopicTable {
    /// The name registered under `id`.
    pub fn name(&self, id: TopicId) -> Option<&ByteString> {
        self.by_id.get(&id).map(|e| &e.name)
    }

    /// The id of `name`, if the client already knows it.
    pub fn known_id(&self, name: &str) -> Option<TopicId> {
        let id = *self.by_name.get(name)?;
        self.by_id.get(&id).filter(|e| e.known).map(|_| id)
    }

    /// The id of `name`, assigned now if it has none; `None` when the table is full.
    pub fn assign(&mut self, name: &ByteString) -> Option<TopicId> {
        if let Some(&id) = self.by_name.get(name) {
            return Some(id);
        }
        if self.by_id.len() >= MAX_TOPICS_PER_CLIENT {
            return None;
        }
        let id = self.free_id()?;
        self.by_id.insert(
            id,
            Entry {
                name: name.clone(),
                known: false,
            },
        );
        self.by_name.insert(name.clone(), id);
        Some(id)
    }

    /// The client now knows `id` (REGACK accepted, SUBACK sent, REGACK of its REGISTER sent).
    pub fn mark_known(&mut self, id: TopicId) {
        if let Some(entry) = self.by_id.get_mut(&id) {
            entry.known = true;
        }
    }

    /// The client does not know `id` after all (a PUBACK or REGACK with
    /// "invalid topic id"): it is registered again before its next use.
    pub fn mark_unknown(&mut self, id: TopicId) {
        if let Some(entry) = self.by_id.get_mut(&id) {
            entry.known = false;
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no id is assigned.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn free_id(&mut self) -> Option<TopicId> {
        // 0x0000 and 0xFFFF are reserved (§5.3.11); the table holds at most
        // MAX_TOPICS_PER_CLIENT ids, so a free one is always near.
        for _ in 0..u16::MAX {
            self.next_id = match self.next_id {
                0 | 0xFFFE.. => 1,
                n => n + 1,
            };
            if !self.by_id.contains_key(&self.next_id) {
                return Some(self.next_id);
            }
        }
        None
    }
}

/// Topic tables of persistent sessions (clean session off), by client id, so
/// a client's ids survive its reconnects, whichever address it comes back
/// from. Written by the client actor whenever its table changes; bounded.
#[derive(Debug, Clone, Default)]
pub struct TopicRegistry {
    tables: Arc<Mutex<HashMap<ByteString, TopicTable>>>,
}

impl TopicRegistry {
    /// The table saved for `client_id`.
    pub fn load(&self, client_id: &ByteString) -> Option<TopicTable> {
        self.tables.lock().get(client_id).cloned()
    }

    /// Saves `table`; false when the registry is full of other clients' tables.
    pub fn save(&self, client_id: &ByteString, table: &TopicTable) -> bool {
        let mut tables = self.tables.lock();
        if tables.len() >= MAX_SAVED_TABLES && !tables.contains_key(client_id) {
            return false;
        }
        tables.insert(client_id.clone(), table.clone());
        true
    }

    /// Forgets the table of `client_id` (a clean session starts).
    pub fn forget(&self, client_id: &ByteString) {
        self.tables.lock().remove(client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_assigned_once_per_name_and_skip_reserved_values() {
        let mut t = TopicTable::default();
        let a = t.assign(&"a/b".into()).unwrap();
        assert_eq!(a, 1);
        assert_eq!(t.assign(&"a/b".into()), Some(1));
        assert_eq!(
            t.known_id("a/b"),
            None,
            "not known before the client learns it"
        );
        t.mark_known(a);
        assert_eq!(t.known_id("a/b"), Some(1));
        t.next_id = 0xFFFE;
        assert_eq!(
            t.assign(&"c".into()),
            Some(2),
            "wraps past 0xFFFF and 0, skips 1"
        );
        t.mark_unknown(a);
        assert_eq!(t.known_id("a/b"), None);
        assert_eq!(t.name(2).map(|n| n.as_ref()), Some("c"));
    }

    #[test]
    fn table_is_bounded() {
        let mut t = TopicTable::default();
        for i in 0..MAX_TOPICS_PER_CLIENT {
            assert!(t.assign(&format!("t/{i}").into()).is_some());
        }
        assert_eq!(t.assign(&"one/more".into()), None);
        assert_eq!(t.len(), MAX_TOPICS_PER_CLIENT);
    }

    #[test]
    fn unregistered_topics_resolve_only_when_predefined_or_short() {
        let predefined = Predefined::new(&BTreeMap::from([(7, "home/temp".to_owned())]));
        let resolve = |t| resolve_unregistered(t, &predefined).map(|n| n.to_string());
        assert_eq!(resolve(Topic::Predefined(7)).as_deref(), Some("home/temp"));
        assert_eq!(resolve(Topic::Predefined(8)), None);
        assert_eq!(
            resolve(Topic::Short(ShortName(*b"ab"))).as_deref(),
            Some("ab")
        );
        assert_eq!(resolve(Topic::Short(ShortName([0xC3, 0x28]))), None);
        assert_eq!(resolve(Topic::Normal(1)), None);
        assert_eq!(predefined.id("home/temp"), Some(7));
    }

    #[test]
    fn registry_keeps_tables_by_client_id() {
        let registry = TopicRegistry::default();
        let mut t = TopicTable::default();
        t.assign(&"x".into());
        assert!(registry.save(&"c".into(), &t));
        assert_eq!(registry.load(&"c".into()).map(|t| t.len()), Some(1));
        registry.forget(&"c".into());
        assert!(registry.load(&"c".into()).is_none());
    }
}
