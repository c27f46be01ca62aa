//! Topic names and topic filters (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7).
