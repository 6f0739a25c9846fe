//! TLS on any port, for service detection: a ClientHello on an open
//! connection, whatever the port, and what the server showed — the
//! version, cipher suite and ALPN it chose and its certificate (subject,
//! issuer, names, validity, key, SHA-256 fingerprint) — then a stream to
//! probe the service inside.
//!
//! rustls speaks TLS 1.2 and 1.3 only: a server limited to SSL 3, TLS 1.0
//! or 1.1 fails the handshake with [`TlsError::Handshake`] (its alert or
//! rustls's reason in the message). For those, [`legacy_info`] reads the
//! facts from the clear-text start of the handshake on a new connection
//! ([`vigie_service::tlshello`]: a ClientHello offering TLS 1.2 and old
//! cipher suites, then the server's ServerHello and Certificate, which up
//! to TLS 1.2 travel unencrypted): version, cipher suite and certificate,
//! no ALPN, and no stream, so the caller reports the port as TLS without
//! the inside probed. Nothing is proven there: no key exchange is made, so
//! the certificate is the one the server sent, not shown to be its own.
//!
//! In [`handshake`], the certificate is never checked (a scanner wants to
//! see it, not trust it), but the server's signature over the handshake
//! is, with the provider's algorithms, so the certificate shown is the one
//! whose key the server holds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ProtocolVersion, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use vigie_service::tlshello::{self, Progress, ServerFlight};

/// What the handshake showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2`; from [`legacy_info`] also `TLSv1.1`,
    /// `TLSv1.0`, `SSLv3`.
    pub version: String,
    /// IANA's name, e.g. `TLS13_AES_256_GCM_SHA384`,
    /// `TLS_RSA_WITH_AES_128_CBC_SHA` (`0x%04x` for a suite vigie does
    /// not name).
    pub cipher: String,
    /// The protocol the server chose among the offered `h2`, `http/1.1`.
    pub alpn: Option<String>,
    /// The server's own certificate (the first of its chain).
    pub cert: Option<CertInfo>,
    /// Certificates in the chain it sent.
    pub chain_len: usize,
}

/// A certificate, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// RFC 4514 style: `CN=example.test, O=Example`.
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names: `DNS:a.test`, `IP:198.18.0.2`, `email:…`,
    /// `URI:…`.
    pub sans: Vec<String>,
    /// Validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// `rsa 2048`, `ec 256`, `ed25519`, `ed448`, or the algorithm's OID.
    pub key: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
    /// Self-signed (subject equals issuer).
    pub self_signed: bool,
}

/// Why TLS could not be spoken.
#[derive(Debug)]
pub enum TlsError {
    /// The handshake failed: not TLS, an alert, or a version or cipher
    /// rustls does not speak (SSL 3, TLS 1.0, 1.1, export ciphers).
    Handshake(String),
    /// No answer within the time given.
    Timeout,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Handshake(m) => write!(f, "TLS handshake failed: {m}"),
            TlsError::Timeout => f.write_str("TLS handshake timed out"),
        }
    }
}

impl std::error::Error for TlsError {}

/// Accepts any certificate; checks the handshake signature with it.
#[derive(Debug)]
struct ShowAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for ShowAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client side every probe uses: TLS 1.3 and 1.2, ALPN `h2` and
/// `http/1.1`, any certificate shown.
pub fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Handshake(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ShowAnyCert(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Speaks TLS on `tcp`: `name` goes in the SNI when it is a host name (an
/// address sends none, as browsers do).
pub async fn handshake(
    config: &Arc<ClientConfig>,
    tcp: TcpStream,
    name: &str,
    wait: Duration,
) -> Result<(TlsStream<TcpStream>, TlsInfo), TlsError> {
    let server = ServerName::try_from(name.to_string())
        .map_err(|e| TlsError::Handshake(format!("server name {name}: {e}")))?;
    let connector = TlsConnector::from(Arc::clone(config));
    let stream = tokio::time::timeout(wait, connector.connect(server, tcp))
        .await
        .map_err(|_| TlsError::Timeout)?
        .map_err(|e| TlsError::Handshake(e.to_string()))?;
    let (_, conn) = stream.get_ref();
    let chain = conn.peer_certificates().unwrap_or(&[]);
    let info = TlsInfo {
        version: conn
            .protocol_version()
            .map_or_else(String::new, version_name),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        cert: chain.first().and_then(|c| cert_info(c.as_ref())),
        chain_len: chain.len(),
    };
    Ok((stream, info))
}

/// The facts of a TLS ≤ 1.2 server (SSL 3, TLS 1.0, 1.1, or 1.2) from the
/// clear-text start of its handshake: sends a ClientHello on `tcp` (SNI
/// `name` when it is a host name), reads the server's ServerHello and
/// Certificate for at most `wait`, and closes. A server that answers with
/// an alert, with TLS 1.3 (its certificate is encrypted), or with what is
/// not TLS gives [`TlsError::Handshake`].
pub async fn legacy_info(
    mut tcp: TcpStream,
    name: &str,
    wait: Duration,
) -> Result<TlsInfo, TlsError> {
    let hello = tlshello::client_hello(Some(name), &hello_random(name));
    let flight = async {
        tcp.write_all(&hello)
            .await
            .map_err(|e| TlsError::Handshake(format!("sending the hello: {e}")))?;
        let mut flight = ServerFlight::new();
        let mut buf = vec![0u8; 8192];
        loop {
            let n = tcp
                .read(&mut buf)
                .await
                .map_err(|e| TlsError::Handshake(e.to_string()))?;
            if n == 0 {
                return Err(TlsError::Handshake(
                    "connection closed during the handshake".into(),
                ));
            }
            match flight.feed(&buf[..n]) {
                Progress::NeedMore => {}
                Progress::Done => return Ok(flight),
                Progress::Error(e) => return Err(TlsError::Handshake(e.to_string())),
            }
        }
    };
    let flight = tokio::time::timeout(wait, flight)
        .await
        .map_err(|_| TlsError::Timeout)??;
    let hello = flight
        .hello()
        .ok_or_else(|| TlsError::Handshake("no ServerHello".into()))?;
    let chain = flight.certificates();
    Ok(TlsInfo {
        version: tlshello::version_name(hello.version)
            .map_or_else(|| format!("0x{:04x}", hello.version), str::to_string),
        cipher: tlshello::cipher_name(hello.cipher)
            .map_or_else(|| format!("0x{:04x}", hello.cipher), str::to_string),
        alpn: None,
        cert: chain.first().and_then(|c| cert_info(c)),
        chain_len: chain.len(),
    })
}

/// A ClientHello's random: unpredictable enough for a hello that agrees
/// no key (SHA-256 of the time, the process and a counter).
fn hello_random(name: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNT.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(name.as_bytes());
    h.finalize().into()
}

fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

/// Reads a DER certificate; `None` if it is not one.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    use sha2::{Digest, Sha256};
    use x509_parser::prelude::*;

    let (_, cert) = parse_x509_certificate(der).ok()?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            sans.push(match n {
                GeneralName::DNSName(d) => format!("DNS:{d}"),
                GeneralName::IPAddress(ip) => format!("IP:{}", ip_text(ip)),
                GeneralName::RFC822Name(m) => format!("email:{m}"),
                GeneralName::URI(u) => format!("URI:{u}"),
                other => format!("{other:?}"),
            });
        }
    }
    let spki = cert.public_key();
    let key = match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.3.101.112" => "ed25519".to_string(),
        "1.3.101.113" => "ed448".to_string(),
        oid => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("rsa {}", rsa.key_size()),
            Ok(x509_parser::public_key::PublicKey::EC(ec)) => format!("ec {}", ec.key_size()),
            _ => oid.to_string(),
        },
    };
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    Some(CertInfo {
        self_signed: subject == issuer,
        subject,
        issuer,
        sans,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key,
        sha256: Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    })
}

/// An IP address SAN's bytes as text (a length other than 4 or 16: hex).
fn ip_text(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_certificate() {
        assert_eq!(cert_info(b""), None);
        assert_eq!(cert_info(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }

    #[test]
    fn ip_sans() {
        assert_eq!(ip_text(&[198, 18, 0, 2]), "198.18.0.2");
        let mut v6 = [0u8; 16];
        v6[0] = 0xfd;
        v6[15] = 2;
        assert_eq!(ip_text(&v6), "fd00::2");
        assert_eq!(ip_text(&[1, 2]), "0102");
    }
}
