//! TLS handshakes against real servers: `openssl s_server` on loopback
//! with certificates made for the test (RSA and EC keys, names and an
//! address in the SANs), TLS 1.3 and 1.2, ALPN, and a TLS 1.0-only server
//! that rustls cannot speak to; the clear-text reading (`legacy_info`) of
//! TLS 1.0, 1.1 and 1.2 servers, refused by a TLS 1.3-only one; and `-sV`
//! on a TLS 1.0 port. Every expected value comes from the certificate file
//! itself, read back by `openssl x509`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigie_engine::tls::{client_config, handshake, legacy_info, TlsError, TlsInfo};

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

/// The certificate's subject, as `openssl x509` writes it in the RFC 4514
/// order and spacing `cert_info` uses.
fn subject(crt: &Path) -> String {
    let out = openssl(&[
        "x509",
        "-in",
        crt.to_str().unwrap(),
        "-noout",
        "-subject",
        "-nameopt",
        "esc_2253,sep_comma_plus_space,sname",
    ]);
    out.trim()
        .strip_prefix("subject=")
        .unwrap_or("")
        .to_string()
}

/// `legacy_info` against a server at `addr`, SNI `vigie.test`.
fn legacy(addr: SocketAddr) -> Result<TlsInfo, TlsError> {
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        legacy_info(tcp, "vigie.test", Duration::from_secs(5)).await
    })
}

/// What `legacy_info` read matches the certificate file.
fn check_cert(info: &TlsInfo, crt: &Path) {
    assert_eq!(info.alpn, None);
    assert_eq!(info.chain_len, 1);
    let cert = info.cert.as_ref().expect("certificate");
    assert_eq!(cert.subject, subject(crt));
    assert_eq!(cert.subject, "CN=vigie.test, O=Vigie Lab");
    assert_eq!(cert.sha256, fingerprint(crt));
    assert_eq!(
        cert.sans,
        ["DNS:vigie.test", "DNS:www.vigie.test", "IP:127.0.0.1"]
    );
}

/// OpenSSL 3 offers TLS 1.0 and 1.1 only at security level 0.
const LEGACY: [&str; 2] = ["-cipher", "DEFAULT:@SECLEVEL=0"];

#[test]
fn legacy_info_reads_tls10_and_tls11() {
    let dir = Dir::new("legacy");
    let (crt, key) = make_cert(&dir.0, &["-newkey", "rsa:2048"]);
    for (flag, version) in [("-tls1", "TLSv1.0"), ("-tls1_1", "TLSv1.1")] {
        let mut args = vec![flag];
        args.extend(LEGACY);
        let (_server, addr) = serve(&crt, &key, &args);
        let info = legacy(addr).unwrap_or_else(|e| panic!("{flag}: {e}"));
        eprintln!("{flag}: {} {}", info.version, info.cipher);
        assert_eq!(info.version, version);
        assert!(
            info.cipher.starts_with("TLS_") && info.cipher.contains("_WITH_"),
            "{flag}: {}",
            info.cipher
        );
        check_cert(&info, &crt);
    }
    // The suite named as IANA does, whichever the server picks (Debian's
    // OpenSSL 3 has neither 3DES nor RC4 to offer).
    for (openssl_name, iana) in [
        ("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),
        ("DHE-RSA-AES256-SHA", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
        ("ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    ] {
        let cipher = format!("{openssl_name}:@SECLEVEL=0");
        let (_server, addr) = serve(&crt, &key, &["-tls1", "-cipher", &cipher]);
        let info = legacy(addr).unwrap_or_else(|e| panic!("{openssl_name}: {e}"));
        assert_eq!(
            (info.version.as_str(), info.cipher.as_str()),
            ("TLSv1.0", iana)
        );
        check_cert(&info, &crt);
    }
}

/// `-sV` on a TLS 1.0-only port: `ssl`, with the facts of the clear-text
/// handshake; nothing probed inside.
#[test]
fn version_detection_of_a_tls10_port() {
    use std::sync::Arc;
    use vigie_engine::version::{detect, Port, VersionSpec};
    use vigie_service::{builtin::BUILTIN, Matcher, ProbeDb, Proto};

    let dir = Dir::new("sv10");
    let (crt, key) = make_cert(&dir.0, &["-newkey", "rsa:2048"]);
    let (_server, addr) = serve(&crt, &key, &["-tls1", LEGACY[0], LEGACY[1]]);
    let db = ProbeDb::parse(BUILTIN.as_bytes()).expect("vigie's database");
    let mut spec = VersionSpec::new(Arc::new(Matcher::new(&db).expect("matcher")), 7);
    spec.min_wait = Duration::from_millis(400);
    let env = vigie_engine::Env::new(
        vigie_engine::Stop::new(),
        vigie_engine::progress::Progress::default(),
    );
    let found = detect(&[Port::tcp(addr.ip(), addr.port())], &spec, &env).expect("detect");
    let d = &found[&(addr.ip(), Proto::Tcp, addr.port())];
    let f = d.found.as_ref().expect("a service");
    assert_eq!(f.service, "ssl");
    assert_eq!(f.product, None);
    let info = d.tls.as_ref().expect("the handshake's facts");
    eprintln!("-sV on -tls1: {} {}", info.version, info.cipher);
    assert_eq!(info.version, "TLSv1.0");
    check_cert(info, &crt);
}

#[test]
fn legacy_info_reads_tls12_and_refuses_tls13() {
    let dir = Dir::new("legacy12");
    let (crt, key) = make_cert(&dir.0, &["-newkey", "rsa:2048"]);
    // The reader does not care for the version up to 1.2.
    let (_server, addr) = serve(&crt, &key, &["-tls1_2"]);
    let info = legacy(addr).expect("TLS 1.2");
    eprintln!("-tls1_2: {} {}", info.version, info.cipher);
    assert_eq!(info.version, "TLSv1.2");
    assert!(info.cipher.starts_with("TLS_ECDHE_RSA_"), "{}", info.cipher);
    check_cert(&info, &crt);
    // A server of any version answers the hello, which offers 1.2, with 1.2.
    let (_server, addr) = serve(&crt, &key, &[]);
    assert_eq!(legacy(addr).expect("default server").version, "TLSv1.2");
    // TLS 1.3 only: it refuses the hello (it would encrypt the
    // certificate anyway); an error, not garbage.
    let (_server, addr) = serve(&crt, &key, &["-tls1_3"]);
    let err = legacy(addr).expect_err("TLS 1.3 only");
    eprintln!("-tls1_3: {err}");
    assert!(
        matches!(&err, TlsError::Handshake(m) if m.contains("protocol_version")),
        "{err}"
    );
}

#[test]
fn legacy_info_errors_not_tls_and_silence() {
    let rt = runtime();
    // A server that answers in clear text.
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = l.local_addr().expect("addr");
    let t = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = l.accept().expect("accept");
        let mut b = [0u8; 1024];
        let _ = s.read(&mut b);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let err = legacy(addr).expect_err("HTTP");
    assert!(
        matches!(&err, TlsError::Handshake(m) if m.contains("not a TLS record")),
        "{err}"
    );
    t.join().expect("server thread");
    // A listener that never speaks: a timeout.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = silent.local_addr().expect("addr");
    let err = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        legacy_info(tcp, "127.0.0.1", Duration::from_millis(300)).await
    });
    assert!(matches!(err, Err(TlsError::Timeout)), "{err:?}");
}
