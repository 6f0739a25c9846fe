//! Responses to match with, written here (what the daemons send, typed
//! from their protocols; nothing taken from nmap's file). Shared by the
//! examples that measure matching.

/// (name, probe that elicited it, bytes).
pub fn responses() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, &'static str, Vec<u8>)> = vec![
        (
            "openssh",
            "NULL",
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec(),
        ),
        ("nginx", "GetRequest", http("nginx/1.22.1", SMALL_HTML)),
        (
            "apache",
            "GetRequest",
            http("Apache/2.4.62 (Debian)", SMALL_HTML),
        ),
        (
            "postfix",
            "NULL",
            b"220 mail.lab.example ESMTP Postfix (Debian/GNU)\r\n".to_vec(),
        ),
        ("vsftpd", "NULL", b"220 (vsFTPd 3.0.3)\r\n".to_vec()),
        (
            "dovecot-imap",
            "NULL",
            b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE \
LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
                .to_vec(),
        ),
        (
            "dovecot-pop3",
            "NULL",
            b"+OK Dovecot (Debian) ready.\r\n".to_vec(),
        ),
        (
            "mariadb",
            "NULL",
            mysql_handshake("5.5.5-10.11.6-MariaDB-0+deb12u1"),
        ),
        (
            "redis",
            "GetRequest",
            b"-ERR wrong number of arguments for 'get' command\r\n".to_vec(),
        ),
        ("random", "GetRequest", random_bytes(512, 0x9e37_79b9)),
        ("crlf", "GetRequest", b"\r\n".to_vec()),
        (
            "telnet",
            "NULL",
            b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27".to_vec(),
        ),
    ];
    let mut big = String::from("<!DOCTYPE html>\n<html><head><title>Lab</title></head><body>\n");
    while big.len() < 4096 - 20 {
        big.push_str("<p>Nothing to see here, only a page long enough to measure.</p>\n");
    }
    big.push_str("</body></html>\n");
    v.push(("http-4k", "GetRequest", http("nginx/1.22.1", &big)));
    v
}

const SMALL_HTML: &str = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to the lab</title>\n\
</head>\n<body>\n<h1>It works</h1>\n<p>A test page.</p>\n</body>\n</html>\n";

fn http(server: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nServer: {server}\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\n\
Content-Type: text/html\r\nContent-Length: {}\r\nLast-Modified: Mon, 30 Nov 2026 10:00:00 GMT\r\n\
Connection: close\r\nETag: \"6565a1b0-{:x}\"\r\nAccept-Ranges: bytes\r\n\r\n{body}",
        body.len(),
        body.len()
    )
    .into_bytes()
}

/// A MySQL protocol-10 handshake packet (as MariaDB sends it).
fn mysql_handshake(version: &str) -> Vec<u8> {
    let mut p = vec![10u8];
    p.extend_from_slice(version.as_bytes());
    p.push(0);
    p.extend_from_slice(&42u32.to_le_bytes()); // connection id
    p.extend_from_slice(b"k3Y!p9a$"); // salt, part 1
    p.push(0);
    p.extend_from_slice(&0xf7feu16.to_le_bytes()); // capabilities
    p.push(45); // collation
    p.extend_from_slice(&2u16.to_le_bytes()); // status
    p.extend_from_slice(&0x81ffu16.to_le_bytes()); // capabilities, upper
    p.push(21); // auth data length
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&0x1du32.to_le_bytes()); // MariaDB's extended caps
    p.extend_from_slice(b"Zq7#Lm2@Xw9!"); // salt, part 2
    p.push(0);
    p.extend_from_slice(b"mysql_native_password\0");
    let mut out = (p.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(0); // sequence id
    out.extend(p);
    out
}

/// Deterministic noise (a 32-bit xorshift).
fn random_bytes(n: usize, mut s: u32) -> Vec<u8> {
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 24) as u8
        })
        .collect()
}
