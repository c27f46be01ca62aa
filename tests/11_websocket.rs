//! MQTT over WebSocket: the HTTP listener, the handshake rules, RFC 6455 frames
//! written and read by hand, and `rumqttc`'s WebSocket transport for QoS 0/1/2,
//! retained messages and wills with MQTT 3.1.1 and 5.0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use wren::app::Server;
use wren::settings::Settings;

/// The longest any single wait in a test may take.
const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// The server

struct Wren {
    _server: Server,
    tcp: SocketAddr,
    http: SocketAddr,
}

/// wren on ephemeral loopback ports, MQTT-SN off, with `extra` TOML layered
/// on top (keys for `[http]` first, then other sections).
fn wren(extra: &str) -> Wren {
    let toml = format!(
        "[mqtt]\ntcp = \"127.0.0.1:0\"\n[mqttsn]\nudp = []\n[http]\nlisten = \"127.0.0.1:0\"\n{extra}"
    );
    let settings = Settings::from_toml(&toml).unwrap();
    let server = Server::start(settings).unwrap();
    let addrs = server.addrs().clone();
    Wren {
        _server: server,
        tcp: addrs.mqtt_tcp[0],
        http: addrs.http[0],
    }
}

// ---------------------------------------------------------------------------
// HTTP and RFC 6455 by hand

/// A response head and body.
struct HttpResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn connect_tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sends `request` and reads the response head (and body, if it has a length).
fn http(stream: &mut TcpStream, request: &str) -> HttpResponse {
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("response head cut short after {head:?}: {other:?}"),
        }
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut response = HttpResponse {
        status,
        head,
        body: Vec::new(),
    };
    if let Some(len) = response.header("content-length") {
        response.body = vec![0; len.parse().unwrap()];
        stream.read_exact(&mut response.body).unwrap();
    }
    response
}

fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

const BINARY: u8 = 0x2;
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// One frame received from the server.
#[derive(Debug)]
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// A WebSocket client speaking RFC 6455 frames by hand.
struct Ws {
    stream: TcpStream,
    /// Binary payload bytes received but not yet taken as MQTT packets.
    pending: Vec<u8>,
}

impl Ws {
    /// Opens a WebSocket at `/mqtt` offering the subprotocol `mqtt`.
    fn open(addr: SocketAddr) -> Self {
        Self::open_with(addr, "/mqtt", "Sec-WebSocket-Protocol: mqtt\r\n").0
    }

    fn open_with(addr: SocketAddr, path: &str, extra: &str) -> (Self, HttpResponse) {
        let mut stream = connect_tcp(addr);
        let response = http(&mut stream, &upgrade_request(path, extra));
        assert_eq!(response.status, 101, "{}", response.head);
        assert_eq!(
            response.header("sec-websocket-accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        let ws = Ws {
            stream,
            pending: Vec::new(),
        };
        (ws, response)
    }

    /// Sends one masked frame (clients must mask, RFC 6455 §5.3).
    fn frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.stream
            .write_all(&masked(fin, opcode, payload))
            .unwrap();
    }

    fn binary(&mut self, payload: &[u8]) {
        self.frame(true, BINARY, payload);
    }

    fn read_frame(&mut self) -> Frame {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).unwrap();
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                self.stream.read_exact(&mut n).unwrap();
                usize::from(u16::from_be_bytes(n))
            }
            127 => {
                let mut n = [0u8; 8];
                self.stream.read_exact(&mut n).unwrap();
                usize::try_from(u64::from_be_bytes(n)).unwrap()
            }
            n => usize::from(n),
        };
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload).unwrap();
        Frame {
            fin: head[0] & 0x80 != 0,
            opcode: head[0] & 0x0f,
            payload,
        }
    }

    /// The next whole MQTT packet from binary frames, however they split it.
    fn packet(&mut self) -> Vec<u8> {
        loop {
            if let Some(len) = packet_len(&self.pending) {
                if self.pending.len() >= len {
                    return self.pending.drain(..len).collect();
                }
            }
            let frame = self.read_frame();
            assert_eq!(frame.opcode, BINARY, "expected a binary frame: {frame:?}");
            assert!(frame.fin, "wren sends unfragmented messages");
            self.pending.extend_from_slice(&frame.payload);
        }
    }

    /// Expects a close frame with `code`, then the end of the connection.
    fn expect_close(&mut self, code: u16) {
        let frame = self.read_frame();
        assert_eq!(frame.opcode, CLOSE, "{frame:?}");
        assert_eq!(
            u16::from_be_bytes([frame.payload[0], frame.payload[1]]),
            code,
            "close reason: {:?}",
            String::from_utf8_lossy(&frame.payload[2..])
        );
        expect_eof(&mut self.stream);
    }

    fn mqtt_connect(&mut self, packet: &[u8]) {
        self.binary(packet);
        assert_eq!(self.packet(), CONNACK_OK);
    }
}

fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![u8::from(fin) << 7 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads until the peer closes; fails if it sends anything or stays open.
fn expect_eof(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "unexpected bytes before EOF: {rest:?}"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("connection still open: {e}"),
    }
}

// ---------------------------------------------------------------------------
// MQTT packets by hand (MQTT 3.1.1 §3)

const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
const PINGREQ: [u8; 2] = [0xc0, 0x00];
const PINGRESP: [u8; 2] = [0xd0, 0x00];

fn remaining_len(mut len: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    remaining_len(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

/// CONNECT for MQTT 3.1.1 (or 3.1 with `v31`), clean session, keepalive 60,
/// with an optional QoS 0 will.
fn connect(client_id: &str, will: Option<(&str, &[u8])>, v31: bool) -> Vec<u8> {
    let mut body = if v31 {
        [string(b"MQIsdp"), vec![3]].concat()
    } else {
        [string(b"MQTT"), vec![4]].concat()
    };
    body.push(if will.is_some() { 0x06 } else { 0x02 });
    body.extend_from_slice(&[0, 60]);
    body.extend(string(client_id.as_bytes()));
    if let Some((topic, message)) = will {
        body.extend(string(topic.as_bytes()));
        body.extend(string(message));
    }
    packet(0x10, &body)
}

fn subscribe(topic: &str) -> Vec<u8> {
    packet(
        0x82,
        &[vec![0, 1], string(topic.as_bytes()), vec![0]].concat(),
    )
}

fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    packet(0x30, &[string(topic.as_bytes()), payload.to_vec()].concat())
}

/// The length of the packet at the front of `buf`, once its header is there.
fn packet_len(buf: &[u8]) -> Option<usize> {
    let mut len = 0usize;
    for (i, byte) in buf.iter().enumerate().skip(1).take(4) {
        len += usize::from(byte & 0x7f) << (7 * (i - 1));
        if byte & 0x80 == 0 {
            return Some(1 + i + len);
        }
    }
    None
}

/// A WebSocket client connected as `id` and subscribed to `topic`.
fn subscriber(addr: SocketAddr, id: &str, topic: &str) -> Ws {
    let mut ws = Ws::open(addr);
    ws.mqtt_connect(&connect(id, None, false));
    ws.binary(&subscribe(topic));
    assert_eq!(ws.packet(), [0x90, 0x03, 0x00, 0x01, 0x00]);
    ws
}

// ---------------------------------------------------------------------------
// HTTP: page, routing, handshake refusals

#[test]
fn get_root_serves_a_page_about_wren() {
    let w = wren("");
    let page = http(
        &mut connect_tcp(w.http),
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let body = String::from_utf8(page.body).unwrap();
    assert!(body.contains("<h1>wren</h1>"), "{body}");
    assert!(
        body.contains("<code>/mqtt</code>"),
        "names the WebSocket path"
    );
    assert!(body.contains("href=\"/README.md\""));

    let readme = http(&mut connect_tcp(w.http), "GET /README.md HTTP/1.1\r\n\r\n");
    assert_eq!(readme.status, 200);
    assert!(readme.body.starts_with(b"# wren"));
}

#[test]
fn wrong_paths_get_404_and_the_ws_path_without_upgrade_426() {
    let w = wren("");
    let missing = http(
        &mut connect_tcp(w.http),
        &upgrade_request("/ws", "Sec-WebSocket-Protocol: mqtt\r\n"),
    );
    assert_eq!(missing.status, 404);
    let page = http(
        &mut connect_tcp(w.http),
        "GET /favicon.ico HTTP/1.1\r\n\r\n",
    );
    assert_eq!(page.status, 404);
    let plain = http(&mut connect_tcp(w.http), "GET /mqtt HTTP/1.1\r\n\r\n");
    assert_eq!(plain.status, 426);
    assert_eq!(plain.header("upgrade"), Some("websocket"));
}

#[test]
fn a_configured_path_is_the_only_websocket_path() {
    let w = wren("ws_path = \"/dash/mqtt\"");
    let old = http(
        &mut connect_tcp(w.http),
        &upgrade_request("/mqtt", "Sec-WebSocket-Protocol: mqtt\r\n"),
    );
    assert_eq!(old.status, 404);
    let mut ws = Ws::open_with(w.http, "/dash/mqtt", "Sec-WebSocket-Protocol: mqtt\r\n").0;
    ws.mqtt_connect(&connect("path", None, false));
}

#[test]
fn subprotocol_mqtt_is_echoed_and_preferred() {
    let w = wren("");
    let (_, only) = Ws::open_with(w.http, "/mqtt", "Sec-WebSocket-Protocol: mqtt\r\n");
    assert_eq!(only.header("sec-websocket-protocol"), Some("mqtt"));
    let (_, both) = Ws::open_with(
        w.http,
        "/mqtt",
        "Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n",
    );
    assert_eq!(both.header("sec-websocket-protocol"), Some("mqtt"));
}

#[test]
fn subprotocol_mqttv31_is_echoed_and_speaks_mqtt_3_1() {
    let w = wren("");
    let (mut ws, response) = Ws::open_with(w.http, "/mqtt", "Sec-WebSocket-Protocol: mqttv3.1\r\n");
    assert_eq!(response.header("sec-websocket-protocol"), Some("mqttv3.1"));
    ws.mqtt_connect(&connect("v31", None, true));
}

#[test]
fn no_subprotocol_is_accepted_without_one_and_foreign_ones_are_refused() {
    let w = wren("");
    let (mut ws, response) = Ws::open_with(w.http, "/mqtt", "");
    assert_eq!(response.header("sec-websocket-protocol"), None);
    ws.mqtt_connect(&connect("lenient", None, false));

    let foreign = http(
        &mut connect_tcp(w.http),
        &upgrade_request("/mqtt", "Sec-WebSocket-Protocol: chat, superchat\r\n"),
    );
    assert_eq!(foreign.status, 400);
}

#[test]
fn origins_outside_the_allow_list_get_403() {
    let w = wren("allowed_origins = [\"http://dash.local:8000\"]");
    let evil = http(
        &mut connect_tcp(w.http),
        &upgrade_request(
            "/mqtt",
            "Sec-WebSocket-Protocol: mqtt\r\nOrigin: http://evil.example\r\n",
        ),
    );
    assert_eq!(evil.status, 403);
    Ws::open_with(
        w.http,
        "/mqtt",
        "Sec-WebSocket-Protocol: mqtt\r\nOrigin: http://dash.local:8000\r\n",
    );
    // Programs send no Origin: the list is about browser pages.
    Ws::open(w.http);
}

#[test]
fn unsupported_websocket_versions_get_426_naming_13() {
    let w = wren("");
    let request = upgrade_request("/mqtt", "").replace("Version: 13", "Version: 8");
    let response = http(&mut connect_tcp(w.http), &request);
    assert_eq!(response.status, 426);
    assert_eq!(response.header("sec-websocket-version"), Some("13"));
}

#[test]
fn an_oversized_request_head_gets_431() {
    let w = wren("");
    let cookie = format!("Cookie: {}\r\n", "a".repeat(20_000));
    let response = http(
        &mut connect_tcp(w.http),
        &format!("GET / HTTP/1.1\r\n{cookie}\r\n"),
    );
    assert_eq!(response.status, 431);
}

#[test]
fn a_slow_client_stalls_nobody_and_is_timed_out() {
    let w = wren("[limits]\nconnect_timeout = 1");
    let mut slow = connect_tcp(w.http);
    slow.write_all(b"GET / HT").unwrap();
    let silent = connect_tcp(w.http);

    let started = Instant::now();
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("fast", None, false));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "handshake waited for the slow clients: {:?}",
        started.elapsed()
    );

    let response = http(&mut slow, "");
    assert_eq!(response.status, 408);
    expect_eof(&mut slow);
    drop(silent);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn max_connections_counts_tcp_and_websocket_together() {
    let w = wren("[limits]\nmax_connections = 1");
    let mut tcp = connect_tcp(w.tcp);
    tcp.write_all(&connect("tcp", None, false)).unwrap();
    let mut connack = [0u8; 4];
    tcp.read_exact(&mut connack).unwrap();
    assert_eq!(connack, CONNACK_OK);

    let mut refused = connect_tcp(w.http);
    let _ = refused.write_all(upgrade_request("/mqtt", "").as_bytes());
    expect_eof(&mut refused);

    drop(tcp);
    // The TCP session releases its slot once it has noticed the close.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut stream = connect_tcp(w.http);
        stream
            .write_all(upgrade_request("/mqtt", "").as_bytes())
            .unwrap();
        let mut first = [0u8; 12];
        if stream.read_exact(&mut first).is_ok() {
            assert_eq!(&first, b"HTTP/1.1 101");
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never released");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// Frames

#[test]
fn a_connect_split_across_two_frames_is_reassembled() {
    let w = wren("");
    let mut ws = Ws::open(w.http);
    let connect = connect("split", None, false);
    let (first, second) = connect.split_at(5);
    ws.binary(first);
    std::thread::sleep(Duration::from_millis(50));
    ws.binary(second);
    assert_eq!(ws.packet(), CONNACK_OK);
}

#[test]
fn two_pingreqs_in_one_frame_get_two_pingresps() {
    let w = wren("");
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("pings", None, false));
    ws.binary(&[PINGREQ, PINGREQ].concat());
    assert_eq!(ws.packet(), PINGRESP);
    assert_eq!(ws.packet(), PINGRESP);
}

#[test]
fn a_fragmented_message_is_one_stream_of_bytes() {
    let w = wren("");
    let mut ws = Ws::open(w.http);
    let connect = connect("fragments", None, false);
    ws.frame(false, BINARY, &connect[..3]);
    ws.frame(false, 0x0, &connect[3..9]);
    ws.frame(true, 0x0, &connect[9..]);
    assert_eq!(ws.packet(), CONNACK_OK);
}

#[test]
fn large_packets_cross_frames_both_ways() {
    let w = wren("");
    let mut ws = subscriber(w.http, "big", "big/#");
    let payload: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let sent = publish("big/one", &payload);
    ws.binary(&sent);
    assert_eq!(ws.packet(), sent, "delivered whole, over several frames");
}

#[test]
fn a_text_frame_closes_with_1003_and_publishes_the_will() {
    let w = wren("");
    let mut watcher = subscriber(w.http, "watcher", "wills/#");
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("texter", Some(("wills/texter", b"gone")), false));
    ws.frame(true, TEXT, b"hello");
    ws.expect_close(1003);
    assert_eq!(watcher.packet(), publish("wills/texter", b"gone"));

    // MQTT bytes are rarely UTF-8: tungstenite refuses those (1007) before
    // wren sees the frame, which closes the connection all the same.
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("texter2", None, false));
    ws.frame(true, TEXT, &PINGREQ);
    ws.expect_close(1007);
}

#[test]
fn a_close_frame_without_disconnect_is_answered_and_publishes_the_will() {
    let w = wren("");
    let mut watcher = subscriber(w.http, "watcher", "wills/#");
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("closer", Some(("wills/closer", b"bye")), false));
    ws.frame(true, CLOSE, &1000u16.to_be_bytes());
    ws.expect_close(1000);
    assert_eq!(watcher.packet(), publish("wills/closer", b"bye"));
}

#[test]
fn disconnect_closes_normally_without_the_will() {
    let w = wren("");
    let mut watcher = subscriber(w.http, "watcher", "wills/#");
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("polite", Some(("wills/polite", b"no")), false));
    ws.binary(&[0xe0, 0x00]);
    ws.expect_close(1000);
    watcher.binary(&PINGREQ);
    assert_eq!(watcher.packet(), PINGRESP, "no will before the PINGRESP");
}

#[test]
fn a_ping_gets_a_pong_while_the_session_is_idle() {
    let w = wren("");
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("idle", None, false));
    std::thread::sleep(Duration::from_millis(200));
    ws.frame(true, PING, b"are you there");
    let pong = ws.read_frame();
    assert_eq!(pong.opcode, PONG);
    assert_eq!(pong.payload, b"are you there");
    // Before CONNECT too: tungstenite answers, the session is not involved.
    let mut fresh = Ws::open(w.http);
    fresh.frame(true, PING, b"");
    assert_eq!(fresh.read_frame().opcode, PONG);
}

#[test]
fn frames_larger_than_max_packet_size_close_with_1009() {
    let w = wren("[limits]\nmax_packet_size = 1024");
    let mut ws = Ws::open(w.http);
    ws.mqtt_connect(&connect("greedy", None, false));
    ws.binary(&publish("t", &[0; 2000]));
    ws.expect_close(1009);
}

#[test]
fn a_malformed_packet_closes_the_websocket() {
    let w = wren("");
    let mut ws = Ws::open(w.http);
    ws.binary(&[0x00, 0x00]);
    ws.expect_close(1000);
}

// ---------------------------------------------------------------------------
// rumqttc over WebSocket, and across transports

mod rumqttc_ws {
    use super::*;
    use rumqttc::{Event, Packet, QoS, Transport};
    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;
    use tokio::time::timeout;

    fn ws_url(w: &Wren) -> String {
        format!("ws://{}/mqtt", w.http)
    }

    /// A client whose event loop runs on its own task, so acknowledgements
    /// flow whatever the test waits for; incoming packets arrive on `packets`.
    struct Client<C, P> {
        client: C,
        packets: mpsc::UnboundedReceiver<P>,
        events: JoinHandle<()>,
    }

    impl<C, P> Client<C, P> {
        /// The next incoming packet `want` accepts; fails after [`WAIT`].
        async fn until<T>(&mut self, mut want: impl FnMut(&P) -> Option<T>) -> T {
            timeout(WAIT, async {
                loop {
                    let packet = self.packets.recv().await.expect("event loop ended");
                    if let Some(found) = want(&packet) {
                        return found;
                    }
                }
            })
            .await
            .expect("timed out waiting for a packet")
        }

        /// Drops the connection without DISCONNECT.
        async fn vanish(self) {
            self.events.abort();
            let _ = self.events.await;
        }
    }

    type V4 = Client<rumqttc::AsyncClient, Packet>;

    /// A v3.1.1 client over WebSocket, or TCP when `ws` is false, connected.
    async fn v4(w: &Wren, id: &str, ws: bool, will: Option<rumqttc::LastWill>) -> V4 {
        let mut options = if ws {
            let mut o = rumqttc::MqttOptions::new(id, ws_url(w), w.http.port());
            o.set_transport(Transport::Ws);
            o
        } else {
            rumqttc::MqttOptions::new(id, w.tcp.ip().to_string(), w.tcp.port())
        };
        options.set_keep_alive(Duration::from_secs(30));
        if let Some(will) = will {
            options.set_last_will(will);
        }
        let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
        let (tx, packets) = mpsc::unbounded_channel();
        let events = tokio::spawn(async move {
            while let Ok(event) = events.poll().await {
                if let Event::Incoming(packet) = event {
                    let _ = tx.send(packet);
                }
            }
        });
        let mut client = Client {
            client,
            packets,
            events,
        };
        client
            .until(|p| matches!(p, Packet::ConnAck(_)).then_some(()))
            .await;
        client
    }

    impl V4 {
        async fn subscribe(&mut self, filter: &str, qos: QoS) {
            self.client.subscribe(filter, qos).await.unwrap();
            self.until(|p| matches!(p, Packet::SubAck(_)).then_some(()))
                .await;
        }

        async fn publishes(&mut self, n: usize) -> Vec<rumqttc::Publish> {
            let mut got = Vec::new();
            while got.len() < n {
                got.push(
                    self.until(|p| match p {
                        Packet::Publish(p) => Some(p.clone()),
                        _ => None,
                    })
                    .await,
                );
            }
            got
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn v311_qos_0_1_2_over_websocket() {
        let w = wren("");
        let mut sub = v4(&w, "ws-sub", true, None).await;
        sub.subscribe("q/#", QoS::ExactlyOnce).await;
        let publisher = v4(&w, "ws-pub", true, None).await;
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let payload = format!("{qos:?}");
            publisher
                .client
                .publish("q/x", qos, false, payload)
                .await
                .unwrap();
        }
        let got = sub.publishes(3).await;
        let got: Vec<(QoS, &[u8])> = got.iter().map(|p| (p.qos, &p.payload[..])).collect();
        assert_eq!(
            got,
            [
                (QoS::AtMostOnce, &b"AtMostOnce"[..]),
                (QoS::AtLeastOnce, b"AtLeastOnce"),
                (QoS::ExactlyOnce, b"ExactlyOnce"),
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn v311_retained_and_will_over_websocket() {
        let w = wren("");
        let mut publisher = v4(&w, "ws-ret", true, None).await;
        publisher
            .client
            .publish("r/state", QoS::AtLeastOnce, true, "on")
            .await
            .unwrap();
        publisher
            .until(|p| matches!(p, Packet::PubAck(_)).then_some(()))
            .await;

        let mut sub = v4(&w, "ws-late", true, None).await;
        sub.subscribe("r/#", QoS::AtLeastOnce).await;
        let retained = sub.publishes(1).await.remove(0);
        assert!(retained.retain);
        assert_eq!(&retained.payload[..], b"on");

        let will = rumqttc::LastWill::new("r/will", "lost", QoS::AtLeastOnce, false);
        let doomed = v4(&w, "ws-doomed", true, Some(will)).await;
        doomed.vanish().await;
        let will = sub.publishes(1).await.remove(0);
        assert_eq!(will.topic, "r/will");
        assert_eq!(&will.payload[..], b"lost");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tcp_and_websocket_clients_reach_each_other() {
        let w = wren("");
        let mut over_ws = v4(&w, "over-ws", true, None).await;
        let mut over_tcp = v4(&w, "over-tcp", false, None).await;
        over_ws.subscribe("from/tcp", QoS::ExactlyOnce).await;
        over_tcp.subscribe("from/ws", QoS::ExactlyOnce).await;
        over_tcp
            .client
            .publish("from/tcp", QoS::ExactlyOnce, false, "a")
            .await
            .unwrap();
        over_ws
            .client
            .publish("from/ws", QoS::ExactlyOnce, false, "b")
            .await
            .unwrap();
        let at_ws = over_ws.publishes(1).await;
        let at_tcp = over_tcp.publishes(1).await;
        assert_eq!(&at_ws[0].payload[..], b"a");
        assert_eq!(at_ws[0].qos, QoS::ExactlyOnce);
        assert_eq!(&at_tcp[0].payload[..], b"b");
        assert_eq!(at_tcp[0].qos, QoS::ExactlyOnce);
    }

    mod v5 {
        use super::*;
        use rumqttc::v5::mqttbytes::QoS;
        use rumqttc::v5::mqttbytes::v5::{LastWill, Packet, Publish};
        use rumqttc::v5::{AsyncClient, Event, MqttOptions};

        type V5 = Client<AsyncClient, Packet>;

        /// A v5 client over WebSocket, connected.
        async fn v5(w: &Wren, id: &str, will: Option<LastWill>) -> V5 {
            let mut options = MqttOptions::new(id, ws_url(w), w.http.port());
            options.set_transport(Transport::Ws);
            options.set_keep_alive(Duration::from_secs(30));
            if let Some(will) = will {
                options.set_last_will(will);
            }
            let (client, mut events) = AsyncClient::new(options, 16);
            let (tx, packets) = mpsc::unbounded_channel();
            let events = tokio::spawn(async move {
                while let Ok(event) = events.poll().await {
                    if let Event::Incoming(packet) = event {
                        let _ = tx.send(packet);
                    }
                }
            });
            let mut client = Client {
                client,
                packets,
                events,
            };
            client
                .until(|p| matches!(p, Packet::ConnAck(_)).then_some(()))
                .await;
            client
        }

        impl V5 {
            async fn subscribe(&mut self, filter: &str, qos: QoS) {
                self.client.subscribe(filter, qos).await.unwrap();
                self.until(|p| matches!(p, Packet::SubAck(_)).then_some(()))
                    .await;
            }

            async fn next_publish(&mut self) -> Publish {
                self.until(|p| match p {
                    Packet::Publish(p) => Some(p.clone()),
                    _ => None,
                })
                .await
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn v5_qos_0_1_2_retained_and_will_over_websocket() {
            let w = wren("");
            let mut sub = v5(&w, "v5-sub", None).await;
            sub.subscribe("v5/#", QoS::ExactlyOnce).await;

            let publisher = v5(&w, "v5-pub", None).await;
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                publisher
                    .client
                    .publish("v5/q", qos, false, format!("{qos:?}"))
                    .await
                    .unwrap();
            }
            publisher
                .client
                .publish("v5/retained", QoS::AtLeastOnce, true, "kept")
                .await
                .unwrap();
            let mut got = Vec::new();
            for _ in 0..4 {
                let p = sub.next_publish().await;
                got.push((p.qos, p.payload.to_vec()));
            }
            assert_eq!(
                got,
                [
                    (QoS::AtMostOnce, b"AtMostOnce".to_vec()),
                    (QoS::AtLeastOnce, b"AtLeastOnce".to_vec()),
                    (QoS::ExactlyOnce, b"ExactlyOnce".to_vec()),
                    (QoS::AtLeastOnce, b"kept".to_vec()),
                ]
            );

            let mut late = v5(&w, "v5-late", None).await;
            late.client
                .subscribe("v5/retained", QoS::AtLeastOnce)
                .await
                .unwrap();
            let retained = late.next_publish().await;
            assert!(retained.retain);
            assert_eq!(&retained.payload[..], b"kept");

            let will = LastWill::new("v5/will", "lost", QoS::AtLeastOnce, false, None);
            let doomed = v5(&w, "v5-doomed", Some(will)).await;
            doomed.vanish().await;
            let will = sub.next_publish().await;
            assert_eq!(&will.topic[..], b"v5/will");
            assert_eq!(&will.payload[..], b"lost");
        }
    }
}
