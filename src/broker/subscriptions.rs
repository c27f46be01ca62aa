//! The subscription tree: which sessions match a topic.
