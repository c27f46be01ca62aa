//! HTTP/1.1 request heads in, responses out: as much HTTP as the HTTP listener
//! needs (RFC 9112), which is one request per connection, no request bodies,
//! and small response bodies.

use bytes::Bytes;

/// Most header lines a request may carry; browsers send about fifteen.
const MAX_HEADERS: usize = 64;

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Longer than the limit, or more header lines than [`MAX_HEADERS`].
    #[error("request head too large")]
    TooLarge,
    /// Not an HTTP/1.x request.
    #[error("malformed request head")]
    Malformed,
}

/// A parsed request line and its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `HEAD`, …, as sent (methods are case-sensitive).
    pub method: String,
    /// The request target's path, without its query string.
    pub path: String,
    /// HTTP/1.1 rather than HTTP/1.0.
    pub http11: bool,
    /// Header fields in order, names lower-cased.
    headers: Vec<(String, String)>,
}

impl RequestHead {
    /// Parses the head at the front of `buf`. `Ok(None)` while the head is not
    /// complete and `buf` is shorter than `max_len`; otherwise the head and its
    /// length in bytes (what follows belongs to the next protocol).
    pub fn parse(buf: &[u8], max_len: usize) -> Result<Option<(Self, usize)>, HeadError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let len = match request.parse(buf) {
            Ok(httparse::Status::Complete(len)) if len <= max_len => len,
            Ok(httparse::Status::Complete(_)) => return Err(HeadError::TooLarge),
            Ok(httparse::Status::Partial) if buf.len() < max_len => return Ok(None),
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::TooLarge);
            }
            Err(_) => return Err(HeadError::Malformed),
        };
        let (Some(method), Some(target), Some(version)) =
            (request.method, request.path, request.version)
        else {
            return Err(HeadError::Malformed);
        };
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        let head = RequestHead {
            method: method.to_owned(),
            path: path.to_owned(),
            http11: version >= 1,
            headers: request
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).trim().to_owned();
                    (h.name.to_ascii_lowercase(), value)
                })
                .collect(),
        };
        Ok(Some((head, len)))
    }

    /// The value of header `name` (lower case); several lines are joined with
    /// ", " as RFC 9110 §5.3 allows for list-valued fields.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next()?;
        Some(values.fold(first.to_owned(), |all, v| all + ", " + v))
    }

    /// The comma-separated elements of list-valued header `name`, trimmed,
    /// empty ones skipped.
    pub fn tokens(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether list-valued header `name` holds `token`, ignoring ASCII case
    /// (for `Connection: keep-alive, Upgrade` and the like).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name)
            .iter()
            .any(|t| t.eq_ignore_ascii_case(token))
    }
}

/// A response status: code and reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u16, pub &'static str);

impl Status {
    pub const SWITCHING_PROTOCOLS: Status = Status(101, "Switching Protocols");
    pub const OK: Status = Status(200, "OK");
    pub const BAD_REQUEST: Status = Status(400, "Bad Request");
    pub const FORBIDDEN: Status = Status(403, "Forbidden");
    pub const NOT_FOUND: Status = Status(404, "Not Found");
    pub const METHOD_NOT_ALLOWED: Status = Status(405, "Method Not Allowed");
    pub const REQUEST_TIMEOUT: Status = Status(408, "Request Timeout");
    pub const UPGRADE_REQUIRED: Status = Status(426, "Upgrade Required");
    pub const HEADERS_TOO_LARGE: Status = Status(431, "Request Header Fields Too Large");
}

/// A response to one request; the connection closes after it, except after 101.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    /// A response to HEAD: the headers describe the body, which is not sent.
    head_only: bool,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: Status) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            head_only: false,
        }
    }

    /// An error response explaining itself in one line of plain text.
    pub fn error(status: Status, why: &str) -> Self {
        let Status(code, reason) = status;
        Self::new(status).body(
            "text/plain; charset=utf-8",
            format!("{code} {reason}: {why}\n"),
        )
    }

    /// Adds a header field.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets the body and its type.
    pub fn body(self, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        let mut response = self.header("Content-Type", content_type);
        response.body = body.into();
        response
    }

    /// Leaves the body out, keeping its `Content-Length` (answering HEAD).
    pub fn without_body(mut self) -> Self {
        self.head_only = true;
        self
    }

    /// The value of header `name`, as given (for tests and logs).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response as bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let Status(code, reason) = self.status;
        let mut out = format!("HTTP/1.1 {code} {reason}\r\n");
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if code != Status::SWITCHING_PROTOCOLS.0 {
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n",
                self.body.len()
            ));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM: &[u8] = b"GET /mqtt?token=x HTTP/1.1\r\n\
        Host: 127.0.0.1:8080\r\n\
        Connection: Upgrade\r\n\
        Upgrade: websocket\r\n\
        Origin: http://127.0.0.1:8000\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Protocol: mqtt\r\n\
        Sec-WebSocket-Protocol: mqttv3.1\r\n\r\n\x82\x80";

    #[test]
    fn parses_a_browser_upgrade_request_and_leaves_what_follows() {
        let (head, len) = RequestHead::parse(CHROMIUM, 8192).unwrap().unwrap();
        assert_eq!(&CHROMIUM[len..], b"\x82\x80");
        assert_eq!(head.method, "GET");
        assert_eq!(
            head.path, "/mqtt",
            "the query string is not part of the path"
        );
        assert!(head.http11);
        assert_eq!(
            head.header("origin").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            head.header("sec-websocket-protocol").as_deref(),
            Some("mqtt, mqttv3.1")
        );
        assert_eq!(head.tokens("sec-websocket-protocol"), ["mqtt", "mqttv3.1"]);
        assert!(head.has_token("connection", "upgrade"));
        assert!(!head.has_token("connection", "keep-alive"));
        assert_eq!(head.header("cookie"), None);
    }

    #[test]
    fn partial_heads_wait_until_the_limit() {
        assert_eq!(RequestHead::parse(&CHROMIUM[..40], 8192), Ok(None));
        assert_eq!(RequestHead::parse(b"", 8192), Ok(None));
        assert_eq!(
            RequestHead::parse(&CHROMIUM[..40], 40),
            Err(HeadError::TooLarge)
        );
        assert_eq!(RequestHead::parse(CHROMIUM, 100), Err(HeadError::TooLarge));
    }

    #[test]
    fn too_many_headers_or_garbage_are_refused() {
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(RequestHead::parse(&many, 1 << 20), Err(HeadError::TooLarge));
        assert_eq!(
            RequestHead::parse(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", 8192),
            Err(HeadError::Malformed),
            "an MQTT CONNECT sent to the HTTP port"
        );
        let (head, _) = RequestHead::parse(b"GET / HTTP/1.0\r\n\r\n", 8192)
            .unwrap()
            .unwrap();
        assert!(!head.http11);
    }

    #[test]
    fn responses_close_the_connection_unless_switching() {
        let page = Response::new(Status::OK).body("text/plain", "hi");
        assert_eq!(
            page.encode(),
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
              Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        assert_eq!(
            page.clone().without_body().encode(),
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
              Content-Length: 2\r\nConnection: close\r\n\r\n"
        );
        let switch = Response::new(Status::SWITCHING_PROTOCOLS).header("Upgrade", "websocket");
        assert_eq!(
            switch.encode(),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        );
        let refusal = Response::error(Status::NOT_FOUND, "no such page");
        assert!(
            refusal
                .encode()
                .ends_with(b"\r\n\r\n404 Not Found: no such page\n")
        );
        assert_eq!(
            refusal.get("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
}
