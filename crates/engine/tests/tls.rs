//! TLS handshakes against real servers: `openssl s_server` on loopback
//! with certificates made for the test (RSA and EC keys, names and an
//! address in the SANs), TLS 1.3 and 1.2, ALPN, and a TLS 1.0-only server
//! that rustls cannot speak to. Every expected value comes from the
//! certificate file itself, read back by `openssl x509`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigie_engine::tls::{client_config, handshake, TlsError};

/// A scratch directory, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("vigie-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (.ci/run installs it)");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A self-signed certificate with `key` (openssl -newkey's argument).
fn make_cert(dir: &Path, key: &[&str]) -> (PathBuf, PathBuf) {
    let (crt, k) = (dir.join("c.pem"), dir.join("k.pem"));
    let mut args = vec!["req", "-x509", "-nodes", "-days", "2"];
    args.extend(key);
    args.extend([
        "-keyout",
        k.to_str().unwrap(),
        "-out",
        crt.to_str().unwrap(),
        "-subj",
        "/CN=vigie.test/O=Vigie Lab",
        "-addext",
        "subjectAltName=DNS:vigie.test,DNS:www.vigie.test,IP:127.0.0.1",
    ]);
    openssl(&args);
    (crt, k)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `openssl s_server` on 127.0.0.1, answering once ready.
fn serve(crt: &Path, key: &Path, extra: &[&str]) -> (Server, SocketAddr) {
    let port = free_port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(addr.to_string())
        .arg("-cert")
        .arg(crt)
        .arg("-key")
        .arg(key)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let server = Server(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, addr)
}

/// The certificate's SHA-256, as `openssl x509` computes it.
fn fingerprint(crt: &Path) -> String {
    let out = openssl(&[
        "x509",
        "-in",
        crt.to_str().unwrap(),
        "-noout",
        "-fingerprint",
        "-sha256",
    ]);
    out.trim()
        .rsplit('=')
        .next()
        .unwrap_or("")
        .replace(':', "")
        .to_lowercase()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn tls13_rsa_certificate_and_alpn() {
    let dir = Dir::new("rsa");
    let (crt, key) = make_cert(&dir.0, &["-newkey", "rsa:2048"]);
    let (_server, addr) = serve(&crt, &key, &["-alpn", "http/1.1"]);
    let config = client_config().expect("config");
    let info = runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        handshake(&config, tcp, "vigie.test", Duration::from_secs(5))
            .await
            .expect("handshake")
            .1
    });
    assert_eq!(info.version, "TLSv1.3");
    assert!(info.cipher.starts_with("TLS13_"), "{}", info.cipher);
    assert_eq!(info.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(info.chain_len, 1);
    let cert = info.cert.expect("certificate");
    assert_eq!(cert.subject, "CN=vigie.test, O=Vigie Lab");
    assert_eq!(cert.issuer, cert.subject);
    assert!(cert.self_signed);
    assert_eq!(
        cert.sans,
        ["DNS:vigie.test", "DNS:www.vigie.test", "IP:127.0.0.1"]
    );
    assert_eq!(cert.key, "rsa 2048");
    assert_eq!(cert.sha256, fingerprint(&crt));
    let days = (cert.not_after - cert.not_before) / 86_400;
    assert_eq!(days, 2);
}

#[test]
fn tls12_ec_certificate_by_address() {
    let dir = Dir::new("ec");
    let (crt, key) = make_cert(
        &dir.0,
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    );
    let (_server, addr) = serve(&crt, &key, &["-tls1_2"]);
    let config = client_config().expect("config");
    let info = runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        handshake(&config, tcp, "127.0.0.1", Duration::from_secs(5))
            .await
            .expect("handshake")
            .1
    });
    assert_eq!(info.version, "TLSv1.2");
    assert!(
        info.cipher.starts_with("TLS_ECDHE_ECDSA_"),
        "{}",
        info.cipher
    );
    assert_eq!(info.alpn, None);
    let cert = info.cert.expect("certificate");
    assert_eq!(cert.key, "ec 256");
    assert_eq!(cert.sha256, fingerprint(&crt));
}

#[test]
fn legacy_and_silent_servers_fail_cleanly() {
    let dir = Dir::new("old");
    let (crt, key) = make_cert(&dir.0, &["-newkey", "rsa:2048"]);
    // TLS 1.0 only (OpenSSL needs security level 0 to offer it at all).
    let (_server, addr) = serve(&crt, &key, &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let config = client_config().expect("config");
    let rt = runtime();
    let err = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        handshake(&config, tcp, "vigie.test", Duration::from_secs(5))
            .await
            .err()
    });
    assert!(
        matches!(err, Some(TlsError::Handshake(_))),
        "TLS 1.0 server: {err:?}"
    );
    // A listener that accepts and never speaks: a timeout, not a hang.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = silent.local_addr().expect("addr");
    let err = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        handshake(&config, tcp, "vigie.test", Duration::from_millis(300))
            .await
            .err()
    });
    assert!(matches!(err, Some(TlsError::Timeout)), "{err:?}");
}
