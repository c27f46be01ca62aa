//! Behaviour of the settings layers through the public API, plus an environment
//! injected as a map so tests never touch the process environment.

use super::*;

/// Embedded defaults < `toml` < the given environment variables.
fn with_env(toml: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let user = layers::TomlLayer::parse(Origin::Text, toml)?;
    let vars = vars
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    Settings::resolve(Some(user), Some(layers::environment(Some(vars))))
}

/// The message of the error `toml` must produce.
fn error_of(toml: &str) -> String {
    match Settings::from_toml(toml) {
        Ok(settings) => panic!("{toml:?} was accepted: {settings:?}"),
        Err(e) => e.to_string(),
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn embedded_defaults_are_the_documented_values() {
    let documented = Settings {
        mqtt: MqttSettings {
            tcp: vec![addr("0.0.0.0:1883")],
            tls: Vec::new(),
            max_topic_alias: 10,
            retain_available: true,
            max_session_expiry: 604_800,
        },
        http: HttpSettings {
            listen: vec![addr("0.0.0.0:8080")],
            tls_listen: Vec::new(),
            ws_path: "/mqtt".into(),
            allowed_origins: Vec::new(),
        },
        limits: Limits {
            max_packet_size: 1_048_576,
            max_connections: 10_000,
            max_connection_rate: 10,
            max_inflight: 32,
            max_queued: 1000,
            connect_timeout: Duration::from_secs(10),
            max_keepalive: 65535,
        },
        mqttsn: MqttSnSettings {
            udp: vec![addr("0.0.0.0:1884")],
            gateway_id: 1,
            advertise_interval: 0,
            multicast: None,
            predefined_topics: BTreeMap::new(),
            client_predefined_topics: BTreeMap::new(),
            max_sleep_buffer: 100,
            t_retry: Duration::from_secs(10),
            t_wait: Duration::from_secs(300),
            n_retry: 3,
            max_clients: 1000,
            allow_qos_minus_one: true,
            clients: BTreeMap::new(),
        },
        log: LogSettings {
            level: "info".into(),
        },
        radio: Vec::new(),
        auth: AuthSettings::default(),
        tls: TlsSettings::default(),
    };
    // No struct has `#[serde(default)]`, so this also proves the embedded file
    // sets every key.
    assert_eq!(Settings::from_toml("").unwrap(), documented);
    assert_eq!(Settings::from_toml(EMBEDDED_DEFAULTS).unwrap(), documented);
    assert_eq!(Settings::default(), documented);
}

#[test]
fn every_embedded_key_has_a_comment_giving_its_default() {
    let mut comment = String::new();
    for line in EMBEDDED_DEFAULTS.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix('#') {
            comment.push_str(text);
        } else if line.is_empty() || line.starts_with('[') {
            comment.clear();
        } else {
            let key = line.split('=').next().unwrap().trim();
            assert!(
                comment.contains("Default:"),
                "{key} lacks a \"Default:\" comment"
            );
            comment.clear();
        }
    }
}

#[test]
fn a_partial_file_overrides_one_key_and_keeps_the_rest() {
    let settings = Settings::from_toml("[limits]\nmax_queued = 5\n").unwrap();
    let mut expected = Settings::default();
    expected.limits.max_queued = 5;
    assert_eq!(settings, expected);
}

#[test]
fn tcp_is_a_string_or_a_list() {
    let one = Settings::from_toml("[mqtt]\ntcp = \"127.0.0.1:1884\"").unwrap();
    assert_eq!(one.mqtt.tcp, [addr("127.0.0.1:1884")]);

    let two = Settings::from_toml("[mqtt]\ntcp = [\"127.0.0.1:1883\", \"[::1]:1883\"]").unwrap();
    assert_eq!(two.mqtt.tcp, [addr("127.0.0.1:1883"), addr("[::1]:1883")]);
}

#[test]
fn http_listen_is_a_string_a_list_or_empty() {
    let one = Settings::from_toml("[http]\nlisten = \"127.0.0.1:8081\"").unwrap();
    assert_eq!(one.http.listen, [addr("127.0.0.1:8081")]);
    let two = Settings::from_toml("[http]\nlisten = [\"127.0.0.1:1\", \"[::1]:1\"]").unwrap();
    assert_eq!(two.http.listen, [addr("127.0.0.1:1"), addr("[::1]:1")]);
    let off = Settings::from_toml("[http]\nlisten = []").unwrap();
    assert!(off.http.listen.is_empty(), "an empty list turns HTTP off");
}

#[test]
fn http_settings_from_the_environment() {
    let settings = with_env(
        "",
        &[
            ("WREN__HTTP__LISTEN", "127.0.0.1:9001,[::1]:9001"),
            ("WREN__HTTP__WS_PATH", "/ws"),
            (
                "WREN__HTTP__ALLOWED_ORIGINS",
                "http://pi.local:8080,https://dash.example",
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        settings.http.listen,
        [addr("127.0.0.1:9001"), addr("[::1]:9001")]
    );
    assert_eq!(settings.http.ws_path, "/ws");
    assert_eq!(
        settings.http.allowed_origins,
        ["http://pi.local:8080", "https://dash.example"]
    );
}

#[test]
fn http_origins_and_path_are_checked() {
    let ok = "[http]\nws_path = \"/\"\nallowed_origins = [\"http://pi.local:8080\", \"null\"]";
    assert!(Settings::from_toml(ok).is_ok());
    let cases = [
        (
            "[http]\nws_path = \"mqtt\"",
            "http.ws_path: invalid value \"mqtt\": must be a path starting with \"/\", \
             without spaces, query or fragment",
        ),
        (
            "[http]\nws_path = \"/mqtt?x=1\"",
            "http.ws_path: invalid value \"/mqtt?x=1\": must be a path starting with \"/\", \
             without spaces, query or fragment",
        ),
        (
            "[http]\nallowed_origins = [\"http://pi.local:8080/\"]",
            "http.allowed_origins: invalid value \"http://pi.local:8080/\": not an origin: \
             expected scheme://host[:port] without a path, or \"null\"",
        ),
        (
            "[http]\nallowed_origins = [\"pi.local\"]",
            "http.allowed_origins: invalid value \"pi.local\": not an origin: \
             expected scheme://host[:port] without a path, or \"null\"",
        ),
        (
            "[http]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:1\"]",
            "http.listen: invalid value 127.0.0.1:1: listed more than once",
        ),
    ];
    for (toml, message) in cases {
        assert_eq!(
            error_of(toml),
            format!("{message} (from TOML text)"),
            "{toml}"
        );
    }
}

#[test]
fn connect_timeout_is_whole_seconds() {
    let settings = Settings::from_toml("[limits]\nconnect_timeout = 3").unwrap();
    assert_eq!(settings.limits.connect_timeout, Duration::from_secs(3));
}

#[test]
fn environment_overrides_file_and_defaults() {
    let settings = with_env(
        "[limits]\nmax_queued = 5\nmax_inflight = 7",
        &[
            ("WREN__LIMITS__MAX_QUEUED", "50"),
            ("WREN__MQTT__TCP", "127.0.0.1:1883,[::1]:1883"),
            ("WREN__MQTT__RETAIN_AVAILABLE", "false"),
            ("WREN__LOG__LEVEL", "info,wren::broker=debug"),
            ("WREN__LIMITS__CONNECT_TIMEOUT", "4"),
        ],
    )
    .unwrap();
    assert_eq!(settings.limits.max_queued, 50, "env beats the file");
    assert_eq!(settings.limits.max_inflight, 7, "the file beats defaults");
    assert_eq!(settings.limits.connect_timeout, Duration::from_secs(4));
    assert_eq!(
        settings.mqtt.tcp,
        [addr("127.0.0.1:1883"), addr("[::1]:1883")]
    );
    assert!(!settings.mqtt.retain_available);
    assert_eq!(settings.log.level, "info,wren::broker=debug");
    assert_eq!(
        settings.mqtt.max_topic_alias, 10,
        "untouched keys keep defaults"
    );
}

#[test]
fn environment_single_address_and_spaces_after_commas() {
    let one = with_env("", &[("WREN__MQTT__TCP", "127.0.0.1:1884")]).unwrap();
    assert_eq!(one.mqtt.tcp, [addr("127.0.0.1:1884")]);
    let spaced = with_env("", &[("WREN__MQTT__TCP", "127.0.0.1:1, 127.0.0.1:2")]).unwrap();
    assert_eq!(spaced.mqtt.tcp, [addr("127.0.0.1:1"), addr("127.0.0.1:2")]);
}

#[test]
fn environment_without_the_prefix_or_empty_is_ignored() {
    let settings = with_env(
        "",
        &[
            ("WREN_LIMITS__MAX_QUEUED", "1"),
            ("LIMITS__MAX_QUEUED", "2"),
            ("WREN__LIMITS__MAX_INFLIGHT", ""),
        ],
    )
    .unwrap();
    assert_eq!(settings, Settings::default());
}

#[test]
fn environment_errors_name_the_variable() {
    let invalid = with_env("", &[("WREN__LIMITS__MAX_INFLIGHT", "0")]).unwrap_err();
    assert_eq!(
        invalid.to_string(),
        "limits.max_inflight: invalid value 0: must be at least 1 \
         (from environment variable WREN__LIMITS__MAX_INFLIGHT)"
    );

    let unknown = with_env("", &[("WREN__LIMITS__MAX_CONECTIONS", "5")]).unwrap_err();
    assert!(
        matches!(unknown, SettingsError::UnknownKey { .. }),
        "{unknown:?}"
    );
    assert!(
        unknown
            .to_string()
            .ends_with("(from environment variable WREN__LIMITS__MAX_CONECTIONS)"),
        "{unknown}"
    );

    let bad = with_env("", &[("WREN__MQTT__TCP", "127.0.0.1:1883,nope")]).unwrap_err();
    assert_eq!(
        bad.to_string(),
        "mqtt.tcp: \"nope\" is not a socket address (expected IP:port, e.g. \
         \"0.0.0.0:1883\" or \"[::1]:1883\") (from environment variable WREN__MQTT__TCP)"
    );
}

#[test]
fn out_of_range_values_name_key_value_and_rule() {
    let cases = [
        (
            "[limits]\nmax_inflight = 0",
            "limits.max_inflight: invalid value 0: must be at least 1",
        ),
        (
            "[limits]\nconnect_timeout = 0",
            "limits.connect_timeout: invalid value 0: must be at least 1",
        ),
        (
            "[limits]\nmax_keepalive = 0",
            "limits.max_keepalive: invalid value 0: must be at least 1",
        ),
        (
            "[limits]\nmax_packet_size = 100",
            "limits.max_packet_size: invalid value 100: must be between 128 and 268435460",
        ),
        (
            "[mqtt]\ntcp = []",
            "mqtt.tcp: invalid value []: at least one listen address is required",
        ),
        (
            "[mqtt]\ntcp = [\"[::]:1883\", \"[::]:1883\"]",
            "mqtt.tcp: invalid value [::]:1883: listed more than once",
        ),
        (
            "[log]\nlevel = \"\"",
            "log.level: invalid value \"\": must not be empty (use \"off\" to turn logging off)",
        ),
    ];
    for (toml, message) in cases {
        assert_eq!(
            error_of(toml),
            format!("{message} (from TOML text)"),
            "{toml}"
        );
    }
}

#[test]
fn limits_at_the_edge_of_their_ranges_are_accepted() {
    let toml = "[limits]\nmax_inflight = 1\nconnect_timeout = 1\nmax_keepalive = 1\n\
                max_packet_size = 268435460\nmax_connections = 0\nmax_queued = 0\n\
                [mqtt]\nmax_topic_alias = 0\nmax_session_expiry = 4294967295";
    let settings = Settings::from_toml(toml).unwrap();
    assert_eq!(settings.limits.max_packet_size, 268_435_460);
    assert_eq!(settings.mqtt.max_session_expiry, u32::MAX);
    assert!(Settings::from_toml("[limits]\nmax_packet_size = 128").is_ok());
    assert!(Settings::from_toml("[limits]\nmax_packet_size = 268435461").is_err());
}

#[test]
fn log_level_must_parse_as_a_filter() {
    assert!(Settings::from_toml("[log]\nlevel = \"warn,wren=trace\"").is_ok());
    let message = error_of("[log]\nlevel = \"wren=loud\"");
    assert!(
        message.starts_with("log.level: invalid value \"wren=loud\": not a log filter: "),
        "{message}"
    );
}

#[test]
fn unknown_keys_list_the_known_ones() {
    assert_eq!(
        error_of("[limits]\nmax_conections = 5"),
        "limits.max_conections: unknown key (known keys: max_packet_size, max_connections, \
         max_connection_rate, max_inflight, max_queued, connect_timeout, max_keepalive) (from TOML text)"
    );
    assert_eq!(
        error_of("[radios]\nport = 1883"),
        "radios: unknown key (known keys: mqtt, http, limits, mqttsn, log, radio, auth, tls) (from TOML text)"
    );
    // Keys are case-sensitive, as in TOML.
    assert!(error_of("[limits]\nMax_Queued = 1").starts_with("limits.Max_Queued: unknown key"));
}

#[test]
fn wrong_types_name_the_key() {
    let cases = [
        (
            "[mqtt]\ntcp = \"0.0.0.0:99999\"",
            "mqtt.tcp: \"0.0.0.0:99999\" is not a socket address (expected IP:port, e.g. \
             \"0.0.0.0:1883\" or \"[::1]:1883\")",
        ),
        (
            "[limits]\nmax_inflight = 70000",
            "limits.max_inflight: expected an unsigned 16 bit integer, \
             found 64-bit unsigned integer `70000`",
        ),
        (
            "[limits]\nconnect_timeout = \"10s\"",
            "limits.connect_timeout: expected an integer, found string \"10s\"",
        ),
        (
            "[limits]\nmax_connections = -1",
            "limits.max_connections: expected an unsigned 64 bit or less integer, \
             found 64-bit integer `-1`",
        ),
        (
            "mqtt = 5",
            "mqtt: invalid type: integer `5`, expected a table",
        ),
    ];
    for (toml, message) in cases {
        assert_eq!(
            error_of(toml),
            format!("{message} (from TOML text)"),
            "{toml}"
        );
    }
}

#[test]
fn bad_toml_gives_line_and_column_on_one_line() {
    assert_eq!(
        error_of("[mqtt]\ntcp = \"0.0.0.0:1883\"\n[limits\nmax_queued = 1"),
        "TOML text: TOML syntax error at line 3, column 8: unclosed table, expected `]`"
    );
    assert_eq!(
        error_of("[limits]\nmax_queued = 1\nmax_queued = 2"),
        "TOML text: TOML syntax error at line 3, column 1: duplicate key"
    );
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wren.toml");

    std::fs::write(&path, "[limits]\nmax_queued = 7\n").unwrap();
    assert_eq!(Settings::load(Some(&path)).unwrap().limits.max_queued, 7);

    std::fs::write(&path, "[limits]\nmax_inflight = 0\n").unwrap();
    assert_eq!(
        Settings::load(Some(&path)).unwrap_err().to_string(),
        format!(
            "limits.max_inflight: invalid value 0: must be at least 1 (from {})",
            path.display()
        )
    );

    std::fs::write(&path, "[limits]\nmax_inflight = \n").unwrap();
    let syntax = Settings::load(Some(&path)).unwrap_err();
    assert!(matches!(&syntax, SettingsError::Syntax { origin: Origin::File(p), .. } if *p == path));
    assert!(
        syntax.to_string().starts_with(&format!(
            "{}: TOML syntax error at line 2, column 16: ",
            path.display()
        )),
        "{syntax}"
    );
}

#[test]
fn load_reports_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let err = Settings::load(Some(&path)).unwrap_err();
    assert!(matches!(&err, SettingsError::FileNotFound { path: p } if *p == path));
    assert_eq!(
        err.to_string(),
        format!("file not found: {}", path.display())
    );
}

#[test]
fn load_reports_an_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Settings::load(Some(dir.path())).unwrap_err();
    assert!(matches!(err, SettingsError::Read { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read: ", dir.path().display())),
        "{err}"
    );
}

#[test]
fn mqttsn_section_reads_every_key() {
    let toml = "[mqttsn]\nudp = [\"127.0.0.1:0\", \"[::1]:0\"]\ngateway_id = 7\n\
                advertise_interval = 30\nmulticast = \"225.1.1.1:1884\"\nt_retry = 2\nt_wait = 7\n\
                n_retry = 5\nmax_clients = 0\nallow_qos_minus_one = false\n\
                [mqttsn.predefined_topics]\n1 = \"home/temp\"\n42 = \"home/door\"\n";
    let sn = Settings::from_toml(toml).unwrap().mqttsn;
    assert_eq!(sn.udp, [addr("127.0.0.1:0"), addr("[::1]:0")]);
    assert_eq!((sn.gateway_id, sn.advertise_interval), (7, 30));
    assert_eq!(sn.multicast, Some(addr("225.1.1.1:1884")));
    assert_eq!((sn.t_retry, sn.n_retry), (Duration::from_secs(2), 5));
    assert_eq!(sn.t_wait, Duration::from_secs(7));
    assert_eq!(sn.max_clients, 0);
    assert!(!sn.allow_qos_minus_one);
    let topics: Vec<_> = sn.predefined_topics.into_iter().collect();
    assert_eq!(
        topics,
        [(1, "home/temp".to_owned()), (42, "home/door".to_owned())]
    );
    assert!(sn.client_predefined_topics.is_empty());
    let per_client =
        Settings::from_toml("[mqttsn.client_predefined_topics.\"node-7\"]\n1 = \"garage/temp\"\n")
            .unwrap()
            .mqttsn
            .client_predefined_topics;
    let node_7: Vec<_> = per_client["node-7"].clone().into_iter().collect();
    assert_eq!(node_7, [(1, "garage/temp".to_owned())]);
    let off = Settings::from_toml("[mqttsn]\nudp = []").unwrap();
    assert!(off.mqttsn.udp.is_empty(), "an empty list turns UDP off");
    let env = with_env("", &[("WREN__MQTTSN__UDP", "127.0.0.1:1,127.0.0.1:2")]).unwrap();
    assert_eq!(env.mqttsn.udp, [addr("127.0.0.1:1"), addr("127.0.0.1:2")]);
}

#[test]
fn mqttsn_errors_name_the_key() {
    let cases = [
        (
            "[mqttsn]\nt_retry = 0",
            "mqttsn.t_retry: invalid value 0: must be at least 1",
        ),
        (
            "[mqttsn]\nmax_sleep_buffer = 0",
            "mqttsn.max_sleep_buffer: invalid value 0: must be at least 1",
        ),
        (
            "[mqttsn.predefined_topics]\n0 = \"a\"",
            "mqttsn.predefined_topics: invalid value 0 = \"a\": topic ids 0 and 65535 are reserved",
        ),
        (
            "[mqttsn.predefined_topics]\nabc = \"a\"",
            "mqttsn.predefined_topics: \"abc\" is not a topic id (expected a number from 1 to 65534)",
        ),
        (
            "[mqttsn.client_predefined_topics.n7]\n65535 = \"a\"",
            "mqttsn.client_predefined_topics: invalid value \"n7\": 65535 = \"a\": topic ids 0 \
             and 65535 are reserved",
        ),
        (
            "[mqttsn.client_predefined_topics.n7]\nx = \"a\"",
            "mqttsn.client_predefined_topics: \"n7\": \"x\" is not a topic id (expected a \
             number from 1 to 65534)",
        ),
        (
            "[mqttsn]\nmulticast = \"nowhere\"",
            "mqttsn.multicast: \"nowhere\" is not a socket address (expected IP:port, e.g. \
             \"0.0.0.0:1883\" or \"[::1]:1883\")",
        ),
        (
            "[mqttsn]\nudp = [\"127.0.0.1:1884\", \"127.0.0.1:1884\"]",
            "mqttsn.udp: invalid value 127.0.0.1:1884: listed more than once",
        ),
    ];
    for (toml, message) in cases {
        assert_eq!(
            error_of(toml),
            format!("{message} (from TOML text)"),
            "{toml}"
        );
    }
    let wildcard = error_of("[mqttsn.predefined_topics]\n5 = \"a/+\"");
    assert!(
        wildcard
            .starts_with("mqttsn.predefined_topics: invalid value 5 = \"a/+\": not a topic name"),
        "{wildcard}"
    );
}
