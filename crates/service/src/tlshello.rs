//! The clear-text start of a TLS ≤ 1.2 handshake, sans-IO: a ClientHello
//! to send and a reader of the server's first flight, so that a server
//! limited to SSL 3, TLS 1.0 or 1.1 (which rustls does not speak) still
//! shows its version, cipher suite and certificate chain.
//!
//! Up to TLS 1.2 the ServerHello and Certificate messages travel before
//! any key is agreed (RFC 6101 §5.6, RFC 2246 §7.4, RFC 4346 §7.4,
//! RFC 5246 §7.4), so reading them needs no cryptography. The hello offers
//! TLS 1.2 (`client_version` 0x0303) with no `supported_versions`
//! extension: a server that speaks 1.3 answers 1.2, one limited to older
//! versions answers its highest. Nothing here completes a handshake.
//!
//! [`ServerFlight`] is fed bytes as they come, in any chunks. It joins
//! records (RFC 5246 §6.2.1) and handshake messages split across records,
//! reads the ServerHello and the Certificate message, and is done after
//! the Certificate (or at ServerHelloDone, when a server sends none). A
//! fatal alert ends it with the alert. Everything is bounded: at most
//! [`MAX_FLIGHT`] bytes read, [`MAX_CERTS`] certificates of at most
//! [`MAX_CERT`] bytes; every length is checked and no input panics.

use std::fmt;
use std::net::IpAddr;

/// The record layer version of the hello: TLS 1.0, which every server of
/// SSL 3 to TLS 1.2 reads (RFC 5246 Appendix E.1).
pub const RECORD_VERSION: u16 = 0x0301;
/// The version offered in the hello: TLS 1.2.
pub const CLIENT_VERSION: u16 = 0x0303;

/// The most bytes read from the server before giving up.
pub const MAX_FLIGHT: usize = 64 * 1024;
/// The most certificates kept from one Certificate message.
pub const MAX_CERTS: usize = 32;
/// The largest certificate accepted.
pub const MAX_CERT: usize = 32 * 1024;
/// The largest record: 2^14 bytes of plaintext, plus the 2048 bytes of
/// expansion RFC 5246 §6.2.3 allows a ciphertext (tolerated).
const MAX_RECORD: usize = (1 << 14) + 2048;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

const HS_HELLO_REQUEST: u8 = 0;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_KEY_EXCHANGE: u8 = 12;
const HS_CERTIFICATE_REQUEST: u8 = 13;
const HS_SERVER_HELLO_DONE: u8 = 14;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_PADDING: u16 = 21;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_RENEGOTIATION_INFO: u16 = 0xff01;

/// The cipher suites offered, in order of preference, with their IANA
/// names: TLS 1.2's AEAD suites first, then CBC with SHA-2 and SHA-1
/// (ECDHE, DHE, RSA key exchange), then 3DES, Camellia, DES and RC4, so
/// that a server of any age finds one it speaks.
pub const CIPHER_SUITES: &[(u16, &str)] = &[
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"),
    (0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA"),
    (0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
];

/// Named groups offered (RFC 8422 §5.1.1, RFC 7748): x25519, secp256r1,
/// secp384r1, secp521r1.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019];

/// Signature algorithms offered (TLS 1.2's hash/signature pairs of
/// RFC 5246 §7.4.1.4.1, and RSA-PSS): SHA-256/384/512 and SHA-1 with
/// ECDSA, RSA-PSS, RSA and DSA.
const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, 0x0503, 0x0603, // ecdsa with sha256, sha384, sha512
    0x0804, 0x0805, 0x0806, // rsa_pss_rsae with sha256, sha384, sha512
    0x0401, 0x0501, 0x0601, // rsa_pkcs1 with sha256, sha384, sha512
    0x0203, 0x0201, // ecdsa, rsa with sha1
    0x0402, 0x0202, // dsa with sha256, sha1
];

/// `SSLv3`, `TLSv1.0` … `TLSv1.3`; `None` for another number.
pub fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => return None,
    })
}

/// IANA's name of a cipher suite the hello offers; `None` for another
/// (report those as `0x%04x`).
pub fn cipher_name(id: u16) -> Option<&'static str> {
    CIPHER_SUITES
        .iter()
        .find(|&&(i, _)| i == id)
        .map(|&(_, n)| n)
}

/// The name that goes in the SNI: a DNS host name, not an address literal
/// (RFC 6066 §3), ASCII letters, digits, `-`, `_` and dots, without the
/// trailing dot.
fn sni_name(name: &str) -> Option<&str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let plain = name.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.len() > 253 || plain.parse::<IpAddr>().is_ok() {
        return None;
    }
    let ok = name.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    ok.then_some(name)
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends an extension: its type, its length, its body.
fn put_ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    put_u16(out, ty);
    put_u16(out, body.len() as u16);
    out.extend_from_slice(body);
}

/// A list of u16 behind a two-byte length.
fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut b = Vec::with_capacity(2 + 2 * items.len());
    put_u16(&mut b, (2 * items.len()) as u16);
    for &i in items {
        put_u16(&mut b, i);
    }
    b
}

/// One TLS record (version 0x0301) holding a ClientHello that offers
/// TLS 1.2 and [`CIPHER_SUITES`], null compression, and the extensions
/// server_name (when `server_name` is a host name, not an address),
/// supported_groups, ec_point_formats, signature_algorithms and
/// renegotiation_info; `random` is the hello's random. A hello whose
/// handshake message would be 256 to 511 bytes long (a long name) is
/// padded to 512 (RFC 7685): some old servers drop hellos of that size.
pub fn client_hello(server_name: Option<&str>, random: &[u8; 32]) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = server_name.and_then(sni_name) {
        // server_name_list: one host_name (type 0) entry.
        let n = name.len() as u16;
        let mut b = Vec::with_capacity(5 + name.len());
        put_u16(&mut b, n + 3);
        b.push(0);
        put_u16(&mut b, n);
        b.extend_from_slice(name.as_bytes());
        put_ext(&mut ext, EXT_SERVER_NAME, &b);
    }
    put_ext(&mut ext, EXT_SUPPORTED_GROUPS, &u16_list(GROUPS));
    // One format: uncompressed.
    put_ext(&mut ext, EXT_EC_POINT_FORMATS, &[1, 0]);
    put_ext(
        &mut ext,
        EXT_SIGNATURE_ALGORITHMS,
        &u16_list(SIGNATURE_ALGORITHMS),
    );
    // An initial handshake: empty renegotiated_connection (RFC 5746 §3.4).
    put_ext(&mut ext, EXT_RENEGOTIATION_INFO, &[0]);

    let mut body = Vec::with_capacity(512);
    put_u16(&mut body, CLIENT_VERSION);
    body.extend_from_slice(random);
    body.push(0); // no session id
    let suites: Vec<u16> = CIPHER_SUITES.iter().map(|&(i, _)| i).collect();
    body.extend_from_slice(&u16_list(&suites));
    body.extend_from_slice(&[1, 0]); // compression: null only
                                     // The message is 4 + body + 2 + extensions bytes long.
    let len = 4 + body.len() + 2 + ext.len();
    if (256..512).contains(&len) {
        let pad = (512 - len).saturating_sub(4);
        put_ext(&mut ext, EXT_PADDING, &vec![0; pad]);
    }
    put_u16(&mut body, ext.len() as u16);
    body.extend_from_slice(&ext);

    let mut out = Vec::with_capacity(9 + body.len());
    out.push(CONTENT_HANDSHAKE);
    put_u16(&mut out, RECORD_VERSION);
    put_u16(&mut out, (4 + body.len()) as u16);
    out.push(HS_CLIENT_HELLO);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&body);
    out
}

/// What the ServerHello chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello {
    /// The negotiated version: 0x0300 (SSL 3) to 0x0303 (TLS 1.2).
    pub version: u16,
    /// The cipher suite's number ([`cipher_name`]).
    pub cipher: u16,
    /// The compression method (0: none).
    pub compression: u8,
}

/// Why the flight could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlightError {
    /// The server sent an alert (a fatal one, or close_notify).
    Alert { level: u8, description: u8 },
    /// The bytes are not TLS records.
    NotTls,
    /// The server chose TLS 1.3: its certificate is encrypted.
    Tls13,
    /// A message or record broke its own lengths or the grammar.
    Malformed(&'static str),
    /// A message came where another was due.
    Unexpected(&'static str),
    /// More than the bounds allow.
    TooLarge(&'static str),
}

/// An alert description's name (RFC 5246 §7.2, RFC 8446 §6).
pub fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        _ => return None,
    })
}

impl fmt::Display for FlightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FlightError::Alert { level, description } => {
                let lvl = if level == 1 { "warning" } else { "fatal" };
                match alert_name(description) {
                    Some(n) => write!(f, "{lvl} alert {n} ({description})"),
                    None => write!(f, "{lvl} alert {description}"),
                }
            }
            FlightError::NotTls => f.write_str("not a TLS record"),
            FlightError::Tls13 => f.write_str("TLS 1.3 chosen: the certificate is encrypted"),
            FlightError::Malformed(w) => write!(f, "malformed {w}"),
            FlightError::Unexpected(w) => write!(f, "unexpected {w}"),
            FlightError::TooLarge(w) => write!(f, "{w} too large"),
        }
    }
}

impl std::error::Error for FlightError {}

/// Where the reading stands after a [`ServerFlight::feed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Not finished: more bytes are needed.
    NeedMore,
    /// The ServerHello and certificates (if any) are read.
    Done,
    /// The flight cannot be read; more bytes change nothing.
    Error(FlightError),
}

/// The server's first flight, read incrementally.
#[derive(Debug, Default)]
pub struct ServerFlight {
    /// Record bytes not yet made into records.
    records: Vec<u8>,
    /// Handshake bytes not yet made into messages.
    handshake: Vec<u8>,
    /// Bytes taken so far (at most [`MAX_FLIGHT`]).
    taken: usize,
    hello: Option<ServerHello>,
    certs: Vec<Vec<u8>>,
    /// Once done or failed, the answer every feed gives.
    end: Option<Progress>,
}

impl ServerFlight {
    pub fn new() -> ServerFlight {
        ServerFlight::default()
    }

    /// The ServerHello, once read.
    pub fn hello(&self) -> Option<&ServerHello> {
        self.hello.as_ref()
    }

    /// The DER certificates of the Certificate message, the server's own
    /// first (none before it is read, or if the server sent none).
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }

    /// Takes the next bytes from the server.
    pub fn feed(&mut self, bytes: &[u8]) -> Progress {
        if let Some(end) = &self.end {
            return end.clone();
        }
        let room = MAX_FLIGHT - self.taken;
        let take = bytes.len().min(room);
        self.taken += take;
        self.records.extend_from_slice(&bytes[..take]);
        let p = match self.drain() {
            Ok(true) => Progress::Done,
            Ok(false) if take < bytes.len() => Progress::Error(FlightError::TooLarge("flight")),
            Ok(false) => return Progress::NeedMore,
            Err(e) => Progress::Error(e),
        };
        // Nothing more is read: let the buffers go.
        self.records = Vec::new();
        self.handshake = Vec::new();
        self.end = Some(p.clone());
        p
    }

    /// Reads every whole record buffered; `Ok(true)` when done.
    fn drain(&mut self) -> Result<bool, FlightError> {
        let mut at = 0;
        let done = loop {
            let rest = &self.records[at..];
            if rest.len() < 5 {
                break false;
            }
            let ty = rest[0];
            if !matches!(ty, 20..=23) || rest[1] != 3 {
                return Err(FlightError::NotTls);
            }
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            if len > MAX_RECORD {
                return Err(FlightError::TooLarge("record"));
            }
            if rest.len() < 5 + len {
                break false;
            }
            at += 5 + len;
            let body = &self.records[at - len..at];
            match ty {
                CONTENT_ALERT => {
                    let [level, description] = *body else {
                        return Err(FlightError::Malformed("alert"));
                    };
                    // A warning (say unrecognized_name) lets the handshake
                    // go on; close_notify ends it.
                    if level != 1 || description == 0 {
                        return Err(FlightError::Alert { level, description });
                    }
                }
                CONTENT_HANDSHAKE => {
                    self.handshake.extend_from_slice(body);
                    if self.messages()? {
                        break true;
                    }
                }
                CONTENT_CHANGE_CIPHER_SPEC if self.hello.is_some() => {
                    // The server resumed a session: no certificate comes.
                    break true;
                }
                CONTENT_CHANGE_CIPHER_SPEC => {
                    return Err(FlightError::Unexpected("ChangeCipherSpec"));
                }
                _ => {
                    debug_assert_eq!(ty, CONTENT_APPLICATION_DATA);
                    return Err(FlightError::Unexpected("application data"));
                }
            }
        };
        self.records.drain(..at);
        Ok(done)
    }

    /// Reads every whole handshake message buffered; `Ok(true)` when done.
    fn messages(&mut self) -> Result<bool, FlightError> {
        let mut at = 0;
        let done = loop {
            let rest = &self.handshake[at..];
            if rest.len() < 4 {
                break false;
            }
            let ty = rest[0];
            let len = u24(&rest[1..4]);
            if len > MAX_FLIGHT {
                return Err(FlightError::TooLarge("handshake message"));
            }
            if rest.len() < 4 + len {
                break false;
            }
            at += 4 + len;
            let body = &self.handshake[at - len..at];
            match (ty, self.hello.is_some()) {
                (HS_HELLO_REQUEST, _) => {
                    // To be ignored while a handshake is under way
                    // (RFC 5246 §7.4.1.1).
                }
                (HS_SERVER_HELLO, false) => self.hello = Some(server_hello(body)?),
                (HS_CERTIFICATE, true) => {
                    self.certs = certificates(body)?;
                    break true;
                }
                // No Certificate message (anonymous key exchange, PSK):
                // the flight goes on with what follows it.
                (HS_SERVER_KEY_EXCHANGE | HS_CERTIFICATE_REQUEST | HS_SERVER_HELLO_DONE, true) => {
                    break true
                }
                (_, false) => return Err(FlightError::Unexpected("message before ServerHello")),
                (_, true) => return Err(FlightError::Unexpected("message after ServerHello")),
            }
        };
        self.handshake.drain(..at);
        Ok(done)
    }
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// A cursor over a message body that checks every length.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FlightError> {
        if self.0.len() < n {
            return Err(FlightError::Malformed(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, FlightError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, FlightError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self, what: &'static str) -> Result<usize, FlightError> {
        Ok(u24(self.take(3, what)?))
    }
}

/// The random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256 of
/// "HelloRetryRequest".
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A ServerHello body (RFC 5246 §7.4.1.3; SSL 3's has no extensions).
fn server_hello(body: &[u8]) -> Result<ServerHello, FlightError> {
    const W: &str = "ServerHello";
    let mut r = Reader(body);
    let version = r.u16(W)?;
    let random = r.take(32, W)?;
    let sid = usize::from(r.u8(W)?);
    if sid > 32 {
        return Err(FlightError::Malformed(W));
    }
    r.take(sid, W)?;
    let cipher = r.u16(W)?;
    let compression = r.u8(W)?;
    if !r.0.is_empty() {
        let len = usize::from(r.u16(W)?);
        let mut ext = Reader(r.take(len, W)?);
        if !r.0.is_empty() {
            return Err(FlightError::Malformed(W));
        }
        while !ext.0.is_empty() {
            let ty = ext.u16(W)?;
            let n = usize::from(ext.u16(W)?);
            ext.take(n, W)?;
            if ty == EXT_SUPPORTED_VERSIONS {
                // Only a TLS 1.3 server sends it (RFC 8446 §4.2.1).
                return Err(FlightError::Tls13);
            }
        }
    }
    if random == HELLO_RETRY_RANDOM {
        return Err(FlightError::Tls13);
    }
    if !(0x0300..=CLIENT_VERSION).contains(&version) {
        return Err(FlightError::Unexpected("version in ServerHello"));
    }
    Ok(ServerHello {
        version,
        cipher,
        compression,
    })
}

/// A Certificate body: a u24-long list of u24-long DER certificates.
fn certificates(body: &[u8]) -> Result<Vec<Vec<u8>>, FlightError> {
    const W: &str = "Certificate";
    let mut r = Reader(body);
    let len = r.u24(W)?;
    let mut list = Reader(r.take(len, W)?);
    if !r.0.is_empty() {
        return Err(FlightError::Malformed(W));
    }
    let mut certs = Vec::new();
    while !list.0.is_empty() {
        let n = list.u24(W)?;
        if n > MAX_CERT {
            return Err(FlightError::TooLarge("certificate"));
        }
        let der = list.take(n, W)?;
        if certs.len() == MAX_CERTS {
            return Err(FlightError::TooLarge("certificate chain"));
        }
        certs.push(der.to_vec());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of `ty` around `body`.
    fn record(ty: u8, version: u16, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ty];
        r.extend_from_slice(&version.to_be_bytes());
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    /// A handshake message.
    fn message(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![ty];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }

    fn hello_body(version: u16, cipher: u16, ext: Option<&[u8]>) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x11; 32]);
        b.push(4);
        b.extend_from_slice(&[9, 9, 9, 9]);
        b.extend_from_slice(&cipher.to_be_bytes());
        b.push(0);
        if let Some(e) = ext {
            b.extend_from_slice(&(e.len() as u16).to_be_bytes());
            b.extend_from_slice(e);
        }
        b
    }

    fn cert_body(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut b = (list.len() as u32).to_be_bytes()[1..].to_vec();
        b.extend_from_slice(&list);
        b
    }

    /// A TLS 1.0 flight: ServerHello (with renegotiation_info), a chain
    /// of two, ServerHelloDone, in one record.
    fn flight() -> Vec<u8> {
        let mut hs = message(
            HS_SERVER_HELLO,
            &hello_body(0x0301, 0x0035, Some(&[0xff, 0x01, 0, 1, 0])),
        );
        hs.extend(message(
            HS_CERTIFICATE,
            &cert_body(&[b"first-cert", b"second"]),
        ));
        hs.extend(message(HS_SERVER_HELLO_DONE, &[]));
        record(CONTENT_HANDSHAKE, 0x0301, &hs)
    }

    fn check_done(f: &ServerFlight) {
        let h = f.hello().expect("hello");
        assert_eq!((h.version, h.cipher, h.compression), (0x0301, 0x0035, 0));
        assert_eq!(
            f.certificates(),
            [b"first-cert".to_vec(), b"second".to_vec()]
        );
    }

    #[test]
    fn whole_flight() {
        let mut f = ServerFlight::new();
        assert_eq!(f.feed(&flight()), Progress::Done);
        check_done(&f);
        // Done stays done.
        assert_eq!(f.feed(b"garbage"), Progress::Done);
    }

    #[test]
    fn split_at_every_byte() {
        let bytes = flight();
        for cut in 0..=bytes.len() {
            let mut f = ServerFlight::new();
            let first = f.feed(&bytes[..cut]);
            if cut < bytes.len() - 4 {
                // Up to the Certificate message's last byte.
                assert_eq!(first, Progress::NeedMore, "cut {cut}");
            }
            assert_eq!(f.feed(&bytes[cut..]), Progress::Done, "cut {cut}");
            check_done(&f);
        }
        let mut f = ServerFlight::new();
        let mut last = Progress::NeedMore;
        for b in &bytes {
            last = f.feed(std::slice::from_ref(b));
        }
        assert_eq!(last, Progress::Done);
        check_done(&f);
    }

    #[test]
    fn messages_split_across_records() {
        // Each handshake message cut in pieces of 3 bytes, one record each,
        // and records of SSL 3's version.
        let mut hs = message(HS_SERVER_HELLO, &hello_body(0x0300, 0x000a, None));
        hs.extend(message(HS_CERTIFICATE, &cert_body(&[b"only"])));
        let mut bytes = Vec::new();
        for piece in hs.chunks(3) {
            bytes.extend(record(CONTENT_HANDSHAKE, 0x0300, piece));
        }
        let mut f = ServerFlight::new();
        assert_eq!(f.feed(&bytes), Progress::Done);
        let h = f.hello().unwrap();
        assert_eq!(version_name(h.version), Some("SSLv3"));
        assert_eq!(cipher_name(h.cipher), Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
        assert_eq!(f.certificates(), [b"only".to_vec()]);
    }

    #[test]
    fn several_messages_in_one_record_then_hello_done_without_cert() {
        // Anonymous: ServerHello, ServerHelloDone.
        let mut hs = message(HS_HELLO_REQUEST, &[]);
        hs.extend(message(HS_SERVER_HELLO, &hello_body(0x0302, 0x0034, None)));
        hs.extend(message(HS_SERVER_HELLO_DONE, &[]));
        let mut f = ServerFlight::new();
        assert_eq!(f.feed(&record(22, 0x0302, &hs)), Progress::Done);
        assert_eq!(f.hello().unwrap().version, 0x0302);
        assert!(f.certificates().is_empty());
        assert_eq!(cipher_name(0x0034), None);
    }

    #[test]
    fn alerts() {
        let mut f = ServerFlight::new();
        let p = f.feed(&record(CONTENT_ALERT, 0x0303, &[2, 70]));
        let err = FlightError::Alert {
            level: 2,
            description: 70,
        };
        assert_eq!(p, Progress::Error(err.clone()));
        assert_eq!(err.to_string(), "fatal alert protocol_version (70)");
        // Sticky.
        assert_eq!(f.feed(&flight()), Progress::Error(err));
        // A warning before the hello is passed over; close_notify is not.
        let mut bytes = record(CONTENT_ALERT, 0x0301, &[1, 112]);
        bytes.extend(flight());
        let mut f = ServerFlight::new();
        assert_eq!(f.feed(&bytes), Progress::Done);
        check_done(&f);
        let mut f = ServerFlight::new();
        assert!(matches!(
            f.feed(&record(CONTENT_ALERT, 0x0301, &[1, 0])),
            Progress::Error(FlightError::Alert { description: 0, .. })
        ));
        // An alert of the wrong size.
        let mut f = ServerFlight::new();
        assert_eq!(
            f.feed(&record(CONTENT_ALERT, 0x0301, &[2])),
            Progress::Error(FlightError::Malformed("alert"))
        );
    }

    #[test]
    fn not_tls() {
        for bytes in [
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            b"SSH-2.0-x\r\n",
            &[0x80, 0x2e, 0x04, 0, 1, 0, 2],
        ] {
            let mut f = ServerFlight::new();
            assert_eq!(
                f.feed(bytes),
                Progress::Error(FlightError::NotTls),
                "{bytes:?}"
            );
        }
        // Application data before any handshake.
        let mut f = ServerFlight::new();
        assert_eq!(
            f.feed(&record(CONTENT_APPLICATION_DATA, 0x0303, b"x")),
            Progress::Error(FlightError::Unexpected("application data"))
        );
        // A Certificate before the ServerHello.
        let mut f = ServerFlight::new();
        let r = record(22, 0x0301, &message(HS_CERTIFICATE, &cert_body(&[b"c"])));
        assert_eq!(
            f.feed(&r),
            Progress::Error(FlightError::Unexpected("message before ServerHello"))
        );
    }

    #[test]
    fn tls13_is_refused() {
        // supported_versions chosen: 0x0304.
        let ext = [0x00, 0x2b, 0, 2, 0x03, 0x04];
        let mut f = ServerFlight::new();
        let r = record(
            22,
            0x0303,
            &message(2, &hello_body(0x0303, 0x1301, Some(&ext))),
        );
        assert_eq!(f.feed(&r), Progress::Error(FlightError::Tls13));
        // A HelloRetryRequest.
        let mut body = hello_body(0x0303, 0x1301, None);
        body[2..34].copy_from_slice(&HELLO_RETRY_RANDOM);
        let mut f = ServerFlight::new();
        assert_eq!(
            f.feed(&record(22, 0x0303, &message(2, &body))),
            Progress::Error(FlightError::Tls13)
        );
        // A version above the one offered.
        let mut f = ServerFlight::new();
        let r = record(22, 0x0303, &message(2, &hello_body(0x0305, 0x002f, None)));
        assert!(matches!(
            f.feed(&r),
            Progress::Error(FlightError::Unexpected(_))
        ));
    }

    #[test]
    fn truncation_waits_and_bad_lengths_fail() {
        let bytes = flight();
        // Every prefix short of the Certificate's end asks for more.
        for cut in 0..bytes.len() - 4 {
            let mut f = ServerFlight::new();
            assert_eq!(f.feed(&bytes[..cut]), Progress::NeedMore, "cut {cut}");
        }
        // A ServerHello cut short inside a whole message.
        let short = hello_body(0x0301, 0x002f, None);
        for n in 0..short.len() {
            let mut f = ServerFlight::new();
            let p = f.feed(&record(22, 0x0301, &message(2, &short[..n])));
            assert_eq!(
                p,
                Progress::Error(FlightError::Malformed("ServerHello")),
                "n {n}"
            );
        }
        // Extensions longer than the message; trailing bytes after them.
        for ext_tail in [&[0x00, 0x09, 0xff][..], &[0x00, 0x00, 0x01]] {
            let mut body = hello_body(0x0301, 0x002f, None);
            body.extend_from_slice(ext_tail);
            let mut f = ServerFlight::new();
            let p = f.feed(&record(22, 0x0301, &message(2, &body)));
            assert_eq!(p, Progress::Error(FlightError::Malformed("ServerHello")));
        }
        // A session id longer than 32.
        let mut body = hello_body(0x0301, 0x002f, None);
        body[34] = 33;
        let mut f = ServerFlight::new();
        let p = f.feed(&record(22, 0x0301, &message(2, &body)));
        assert_eq!(p, Progress::Error(FlightError::Malformed("ServerHello")));
        // Certificate list lengths that disagree.
        for cert in [
            vec![0, 0, 5, 0, 0, 9, 1, 2],
            vec![0, 0, 1, 0],
            vec![0, 0, 0, 7],
            vec![0, 0],
        ] {
            let mut hs = message(2, &hello_body(0x0301, 0x002f, None));
            hs.extend(message(HS_CERTIFICATE, &cert));
            let mut f = ServerFlight::new();
            let p = f.feed(&record(22, 0x0301, &hs));
            assert_eq!(
                p,
                Progress::Error(FlightError::Malformed("Certificate")),
                "{cert:?}"
            );
        }
    }

    #[test]
    fn oversized_lengths() {
        // A record longer than TLS allows.
        let mut f = ServerFlight::new();
        assert_eq!(
            f.feed(&[22, 3, 1, 0xff, 0xff]),
            Progress::Error(FlightError::TooLarge("record"))
        );
        // A handshake message announcing 16 MiB.
        let mut f = ServerFlight::new();
        assert_eq!(
            f.feed(&record(22, 0x0301, &[2, 0xff, 0xff, 0xff])),
            Progress::Error(FlightError::TooLarge("handshake message"))
        );
        // A certificate over the bound.
        let big = vec![0u8; MAX_CERT + 1];
        let mut hs = message(2, &hello_body(0x0301, 0x002f, None));
        hs.extend(message(HS_CERTIFICATE, &cert_body(&[big.as_slice()])));
        let mut bytes = Vec::new();
        for piece in hs.chunks(1 << 14) {
            bytes.extend(record(22, 0x0301, piece));
        }
        let mut f = ServerFlight::new();
        assert_eq!(
            f.feed(&bytes),
            Progress::Error(FlightError::TooLarge("certificate"))
        );
        // Too many certificates.
        let many = vec![&b"c"[..]; MAX_CERTS + 1];
        let mut hs = message(2, &hello_body(0x0301, 0x002f, None));
        hs.extend(message(HS_CERTIFICATE, &cert_body(&many)));
        let mut f = ServerFlight::new();
        assert_eq!(
            f.feed(&record(22, 0x0301, &hs)),
            Progress::Error(FlightError::TooLarge("certificate chain"))
        );
        // A flight that never ends: HelloRequests, 4 bytes each, in
        // records, past MAX_FLIGHT.
        let hr = message(HS_HELLO_REQUEST, &[]).repeat(4000);
        let r = record(22, 0x0301, &hr);
        let mut f = ServerFlight::new();
        let mut last = Progress::NeedMore;
        for _ in 0..(MAX_FLIGHT / r.len() + 2) {
            last = f.feed(&r);
            if last != Progress::NeedMore {
                break;
            }
        }
        assert_eq!(last, Progress::Error(FlightError::TooLarge("flight")));
    }

    /// Extensions read back: type, body.
    type Extensions = Vec<(u16, Vec<u8>)>;

    /// Reads a ClientHello back: its version, suites and extensions.
    fn read_hello(b: &[u8]) -> (u16, Vec<u16>, Extensions) {
        assert_eq!(b[0], 22);
        assert_eq!(u16::from_be_bytes([b[1], b[2]]), RECORD_VERSION);
        assert_eq!(usize::from(u16::from_be_bytes([b[3], b[4]])), b.len() - 5);
        assert_eq!(b[5], HS_CLIENT_HELLO);
        assert_eq!(u24(&b[6..9]), b.len() - 9);
        let mut r = Reader(&b[9..]);
        let version = r.u16("").unwrap();
        assert_eq!(r.take(32, "").unwrap(), [7u8; 32]);
        assert_eq!(r.u8("").unwrap(), 0);
        let n = usize::from(r.u16("").unwrap());
        let suites = r
            .take(n, "")
            .unwrap()
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(r.take(2, "").unwrap(), [1, 0]);
        let n = usize::from(r.u16("").unwrap());
        let mut e = Reader(r.take(n, "").unwrap());
        assert!(r.0.is_empty());
        let mut exts = Vec::new();
        while !e.0.is_empty() {
            let ty = e.u16("").unwrap();
            let n = usize::from(e.u16("").unwrap());
            exts.push((ty, e.take(n, "").unwrap().to_vec()));
        }
        (version, suites, exts)
    }

    #[test]
    fn the_client_hello() {
        let h = client_hello(Some("vigie.test"), &[7; 32]);
        let (version, suites, exts) = read_hello(&h);
        assert_eq!(version, 0x0303);
        assert_eq!(suites.len(), CIPHER_SUITES.len());
        for id in [0x002f, 0x000a, 0x0005, 0xc013, 0x0033, 0xc02f] {
            assert!(suites.contains(&id), "{id:04x}");
        }
        let types: Vec<u16> = exts.iter().map(|e| e.0).collect();
        assert_eq!(types, [0, 10, 11, 13, 0xff01]);
        assert_eq!(exts[0].1, b"\x00\x0d\x00\x00\x0avigie.test");
        assert_eq!(exts[2].1, [1, 0]);
        assert_eq!(exts[4].1, [0]);
        // No SNI for addresses, or for what is not a host name.
        for name in [
            None,
            Some("127.0.0.1"),
            Some("::1"),
            Some("[fd00::2]"),
            Some("a b"),
            Some(""),
        ] {
            let (_, _, exts) = read_hello(&client_hello(name, &[7; 32]));
            assert_ne!(exts[0].0, 0, "{name:?}");
        }
        // A trailing dot goes.
        let (_, _, exts) = read_hello(&client_hello(Some("vigie.test."), &[7; 32]));
        assert_eq!(exts[0].1, b"\x00\x0d\x00\x00\x0avigie.test");
        // A long name: padded out of the 256-511 byte range.
        let long = format!("{}.test", vec!["a".repeat(60); 3].join("."));
        let h = client_hello(Some(&long), &[7; 32]);
        let (_, _, exts) = read_hello(&h);
        assert_eq!(exts.last().unwrap().0, EXT_PADDING);
        assert_eq!(h.len() - 5, 512);
    }

    #[test]
    fn names() {
        assert_eq!(version_name(0x0300), Some("SSLv3"));
        assert_eq!(version_name(0x0301), Some("TLSv1.0"));
        assert_eq!(version_name(0x0302), Some("TLSv1.1"));
        assert_eq!(version_name(0x0303), Some("TLSv1.2"));
        assert_eq!(version_name(0x0200), None);
        assert_eq!(cipher_name(0x002f), Some("TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert_eq!(
            cipher_name(0xc030),
            Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
        );
        assert_eq!(cipher_name(0x1301), None);
        // Every offered suite once.
        let mut ids: Vec<u16> = CIPHER_SUITES.iter().map(|s| s.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CIPHER_SUITES.len());
    }
}
