//! The matcher against nmap's own probe file, named explicitly (Debian's
//! copy, from the nmap package that .ci/run installs; nothing of it is in
//! the repository), with responses written here. Expectations come from
//! reading nmap's lines (and agree with `nmap -sV` serving these exact
//! bytes in a namespace); then, on a small probe file written here, the
//! rules themselves: order, fallbacks, softmatches, caps, trimming, CPEs.

use vigie_service::{Found, Matcher, ProbeDb};

const NMAP_PROBES: &str = "/usr/share/nmap/nmap-service-probes";

fn nmap() -> &'static Matcher {
    use std::sync::OnceLock;
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let bytes = std::fs::read(NMAP_PROBES)
            .unwrap_or_else(|e| panic!("{NMAP_PROBES}: {e} (install nmap; .ci/run does)"));
        let db = ProbeDb::parse(&bytes).unwrap_or_else(|e| panic!("{NMAP_PROBES}: {e}"));
        Matcher::new(&db).expect("matcher")
    })
}

fn probe(m: &Matcher, name: &str) -> usize {
    m.db()
        .probes
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no probe {name}"))
}

fn answer(name: &str, response: &[u8]) -> Found {
    let m = nmap();
    m.match_response(probe(m, name), response)
        .unwrap_or_else(|| {
            panic!(
                "{name}: no match for {:?}",
                response.escape_ascii().to_string()
            )
        })
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn http(server: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nServer: {server}\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\n\
Content-Type: text/html\r\nContent-Length: 45\r\nConnection: close\r\n\r\n\
<html><head><title>lab</title></head></html>\n"
    )
    .into_bytes()
}

#[test]
fn every_line_of_nmaps_file_compiles() {
    let m = nmap();
    let lines: usize = m.db().probes.iter().map(|p| p.matches.len()).sum();
    assert!(lines > 10_000, "{lines}");
    assert_eq!(m.compiled(), lines, "{:?}", m.skipped().first());
    assert!(m.skipped().is_empty());
}

#[test]
fn openssh_on_debian() {
    let f = answer("NULL", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    assert_eq!(
        f,
        Found {
            service: "ssh".into(),
            soft: false,
            product: s("OpenSSH"),
            version: s("9.2p1 Debian 2+deb12u3"),
            info: s("protocol 2.0"),
            hostname: None,
            ostype: s("Linux"),
            devicetype: None,
            cpe: vec![
                "cpe:/a:openbsd:openssh:9.2p1".into(),
                // The line names two OS CPEs; nmap keeps one per part.
                "cpe:/o:linux:linux_kernel".into(),
            ],
            line: f.line,
        }
    );
}

#[test]
fn banners_on_the_null_probe() {
    let f = answer("NULL", b"220 (vsFTPd 3.0.3)\r\n");
    assert_eq!(
        (f.service.as_str(), f.product, f.version, f.ostype, f.cpe),
        (
            "ftp",
            s("vsftpd"),
            s("3.0.3"),
            s("Unix"),
            vec!["cpe:/a:vsftpd:vsftpd:3.0.3".to_string()]
        )
    );
    // The hostname keeps the space the group takes (only trailing ones go).
    let f = answer(
        "NULL",
        b"220 mail.lab.example ESMTP Postfix (Debian/GNU)\r\n",
    );
    assert_eq!(
        (f.service.as_str(), f.product, f.version, f.hostname, f.cpe),
        (
            "smtp",
            s("Postfix smtpd"),
            None,
            s(" mail.lab.example"),
            vec!["cpe:/a:postfix:postfix".to_string()]
        )
    );
    // A Linux telnetd's option negotiation (an unanchored line).
    let f = answer("NULL", b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27");
    assert_eq!(
        (f.service.as_str(), f.product, f.ostype),
        ("telnet", s("Linux telnetd"), s("Linux"))
    );
    // Dovecot's greeting only softmatches: later probes tell more.
    let f = answer("NULL", b"+OK Dovecot (Debian) ready.\r\n");
    assert_eq!(
        (f.service.as_str(), f.soft, f.product),
        ("pop3", true, None)
    );
}

#[test]
fn mariadb_handshake_binary_and_lowercased_cpe() {
    let version = b"5.5.5-10.11.6-MariaDB-0+deb12u1";
    let mut p = vec![10u8];
    p.extend_from_slice(version);
    p.push(0);
    p.extend_from_slice(&[42, 0, 0, 0]);
    p.extend_from_slice(b"k3Y!p9a$\0");
    p.extend_from_slice(&[0xfe, 0xf7, 45, 2, 0, 0xff, 0x81, 21, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(b"Zq7#Lm2@Xw9!\0mysql_native_password\0");
    let mut r = vec![p.len() as u8, 0, 0, 0];
    r.extend(p);
    let f = answer("NULL", &r);
    assert_eq!(
        (f.service.as_str(), f.product, f.version, f.cpe),
        (
            "mysql",
            s("MySQL"),
            s("5.5.5-10.11.6-MariaDB-0+deb12u1"),
            vec!["cpe:/a:mariadb:mariadb:5.5.5-10.11.6-mariadb-0%2Bdeb12u1".to_string()]
        )
    );
}

#[test]
fn http_servers_on_get_request() {
    let f = answer("GetRequest", &http("nginx/1.22.1"));
    assert_eq!(
        (f.service.as_str(), f.product, f.version, f.info, f.cpe),
        (
            "http",
            s("nginx"),
            s("1.22.1"),
            None,
            vec!["cpe:/a:igor_sysoev:nginx:1.22.1".to_string()]
        )
    );
    let f = answer("GetRequest", &http("Apache/2.4.62 (Debian)"));
    assert_eq!(
        (f.service.as_str(), f.product, f.version, f.info, f.cpe),
        (
            "http",
            s("Apache httpd"),
            s("2.4.62"),
            s("(Debian)"),
            vec!["cpe:/a:apache:http_server:2.4.62".to_string()]
        )
    );
    let f = answer(
        "GetRequest",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    assert_eq!(
        (f.service.as_str(), f.product),
        ("redis", s("Redis key-value store"))
    );
}

#[test]
fn tcp_probes_fall_back_to_null_udp_ones_do_not() {
    let m = nmap();
    // An SSH banner read after GetRequest is found through NULL's lines.
    let f = m
        .match_response(
            probe(m, "GetRequest"),
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
        )
        .expect("via NULL");
    assert_eq!(f.service, "ssh");
    let get = probe(m, "GetRequest");
    let chain = m.chain(get);
    assert_eq!(chain.first(), Some(&(get as u32)));
    assert_eq!(chain.last(), Some(&(probe(m, "NULL") as u32)));
    for (i, p) in m.db().probes.iter().enumerate() {
        let has_null = m.chain(i).contains(&0);
        assert_eq!(has_null, p.proto == vigie_service::Proto::Tcp, "{}", p.name);
    }
    assert_eq!(m.match_response(get, b"\r\n"), None);
    assert_eq!(m.match_response(get, b""), None);
}

/// The index never drops a line: on every response, cut and changed, the
/// indexed matcher finds exactly the lines that running every regex finds.
#[test]
fn the_index_loses_nothing() {
    let m = nmap();
    let mut responses: Vec<Vec<u8>> = vec![
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec(),
        b"SSH-1.99-Cisco-1.25\r\n".to_vec(),
        b"220 (vsFTPd 3.0.3)\r\n".to_vec(),
        b"220 mail.lab.example ESMTP Postfix (Debian/GNU)\r\n".to_vec(),
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n".to_vec(),
        b"+OK Dovecot (Debian) ready.\r\n".to_vec(),
        b"-ERR wrong number of arguments for 'get' command\r\n".to_vec(),
        b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27".to_vec(),
        b"RFB 003.008\n".to_vec(),
        b"220 ProFTPD Server (Debian) [::ffff:198.18.0.2]\r\n".to_vec(),
        b"HTTP/1.0 400 Bad Request\r\nserver: NGINX\r\n\r\n".to_vec(),
        b"\x15\x03\x01\x00\x02\x02\x28".to_vec(),
        b"".to_vec(),
        http("nginx/1.22.1"),
        http("Apache/2.4.62 (Debian)"),
        http("lighttpd/1.4.69"),
        http("Microsoft-IIS/10.0"),
    ];
    let mut x = 0x1234_5678u32;
    let mut noise = Vec::new();
    for _ in 0..600 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push((x >> 24) as u8);
    }
    responses.push(noise);
    let mut cut = Vec::new();
    for r in &responses {
        for end in [1, 2, 4, 8, 16, r.len() / 2] {
            cut.push(r[..end.min(r.len())].to_vec());
        }
        cut.push(r.to_ascii_lowercase());
        cut.push(r.to_ascii_uppercase());
    }
    responses.extend(cut);
    let mut matched = 0;
    for r in &responses {
        let indexed = m.matching_lines(r);
        assert_eq!(
            indexed,
            m.matching_lines_unindexed(r),
            "{:?}",
            r.escape_ascii().to_string()
        );
        matched += indexed.len();
    }
    assert!(matched > 50, "{matched}");
}

// ---- The rules, on a probe file written here. ----

const RULES: &str = r#"
Probe TCP NULL q||
match ssh m|^SSH-([\d.]+)-Fake_(\S+)\r\n| p/Fake sshd/ v/$2/ i/protocol $1/
softmatch ftp m|^220 |

Probe TCP Hello q|HELLO\r\n|
fallback Other
match hello m|^HELLO (\w+) (.*)\r\n$| p/$1/ v/$2/ i/   , ,/ cpe:/a:acme:$1_server:$2/ cpe:/o:first/ cpe:/x:unknown/ cpe:/o:last:$1/
match wide m|^WIDE (.*)$|s p/$1/ v/$1/ i/$1/ h/$1/ o/$1/ d/$1/ cpe:/a:$1/
match bin m|^BIN(.*)\0|s p/$1/
softmatch hello m|^HELLO|
match later m|^LATER| p/later/

Probe TCP Other q|OTHER\r\n|
match other m|^OTHER| p/from Other/
match hello m|^HELLO soft then (hard)| p/$1 from Other/

Probe UDP Dgram q|x|
fallback Hello
match dgram m|^DGRAM| p/datagram/
"#;

fn rules() -> Matcher {
    Matcher::new(&ProbeDb::parse(RULES.as_bytes()).unwrap()).unwrap()
}

#[test]
fn fields_filled_trimmed_and_cpes_lowered() {
    let m = rules();
    let f = m.match_response(1, b"HELLO Widget 1.0 beta+2\r\n").unwrap();
    assert_eq!(
        f,
        Found {
            service: "hello".into(),
            soft: false,
            product: s("Widget"),
            version: s("1.0 beta+2"),
            // Only spaces and commas: nothing.
            info: None,
            hostname: None,
            ostype: None,
            devicetype: None,
            // Substitutions lower-cased, spaces as `_`, reserved bytes
            // escaped; one CPE per part, the last; unknown parts dropped.
            cpe: vec![
                "cpe:/a:acme:widget_server:1.0_beta%2B2".into(),
                "cpe:/o:last:widget".into()
            ],
            line: 8,
        }
    );
}

#[test]
fn caps_and_unprintable_bytes() {
    let m = rules();
    let mut r = b"WIDE ".to_vec();
    r.extend(std::iter::repeat_n(b'x', 300));
    let f = m.match_response(1, &r).unwrap();
    let len = |v: &Option<String>| v.as_ref().map(String::len);
    assert_eq!(len(&f.product), Some(80));
    assert_eq!(len(&f.version), Some(80));
    assert_eq!(len(&f.info), Some(256));
    assert_eq!(len(&f.hostname), Some(80));
    assert_eq!(len(&f.ostype), Some(32));
    assert_eq!(len(&f.devicetype), Some(32));
    assert_eq!(f.cpe[0].len(), 80);
    assert!(f.cpe[0].starts_with("cpe:/a:xxx"));

    let f = m
        .match_response(1, b"BIN\x01a\x7fb\xc3\xa9 \r\n\0")
        .unwrap();
    assert_eq!(f.product, s(".a.b.."));
}

#[test]
fn order_fallbacks_and_softmatches() {
    let m = rules();
    let names: Vec<&str> = m
        .chain(1)
        .iter()
        .map(|&i| m.db().probes[i as usize].name.as_str())
        .collect();
    assert_eq!(names, ["Hello", "Other", "NULL"]);
    // UDP: its fallback, no NULL.
    assert_eq!(m.chain(3), [3, 1]);

    // Own lines first: Hello's line wins over Other's.
    let f = m.match_response(1, b"HELLO a b\r\n").unwrap();
    assert_eq!((f.service.as_str(), f.line), ("hello", 8));
    // A softmatch in Hello, then a hard match in its fallback: the hard one.
    let f = m.match_response(1, b"HELLO soft then hard").unwrap();
    assert_eq!(
        (f.soft, f.product.as_deref(), f.line),
        (false, Some("hard from Other"), 16)
    );
    // A softmatch alone is reported as soft.
    let f = m.match_response(1, b"HELLO").unwrap();
    assert_eq!((f.service.as_str(), f.soft, f.line), ("hello", true, 11));
    // NULL's own softmatch.
    let f = m.match_response(0, b"220 ready").unwrap();
    assert_eq!((f.service.as_str(), f.soft), ("ftp", true));
    // NULL's lines after the fallbacks'.
    let f = m.match_response(1, b"SSH-2.0-Fake_1.2\r\n").unwrap();
    assert_eq!(
        (f.service.as_str(), f.version.as_deref(), f.info.as_deref()),
        ("ssh", Some("1.2"), Some("protocol 2.0"))
    );
    // Other's own chain does not reach Hello's lines.
    assert_eq!(m.match_response(2, b"LATER").map(|f| f.service), None);
    assert_eq!(
        m.match_response(1, b"LATER").map(|f| f.service).as_deref(),
        Some("later")
    );
    // The UDP probe reaches Hello's lines through its fallback, not NULL's.
    assert_eq!(
        m.match_response(3, b"HELLO x y\r\n").map(|f| f.line),
        Some(8)
    );
    assert_eq!(m.match_response(3, b"SSH-2.0-Fake_1\r\n"), None);
}

#[test]
fn a_pattern_that_does_not_compile_is_skipped_and_named() {
    let text = "Probe TCP NULL q||\nmatch a m|^ok|\n\nmatch b m|^(unclosed|\nmatch c m|^x[|\n";
    let m = Matcher::new(&ProbeDb::parse(text.as_bytes()).unwrap()).unwrap();
    assert_eq!(m.compiled(), 1);
    let lines: Vec<usize> = m.skipped().iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 5]);
    let msg = m.skipped()[0].to_string();
    assert!(
        msg.starts_with("line 4: the pattern of b does not compile: "),
        "{msg}"
    );
    assert_eq!(
        m.match_response(0, b"ok").map(|f| f.service).as_deref(),
        Some("a")
    );
}

#[test]
fn match_limits_end_a_runaway_pattern_without_a_match() {
    // Catastrophic backtracking: PCRE2's match limit stops it (an error,
    // read as no match), as nmap's limits do.
    let text = "Probe TCP NULL q||\nmatch slow m|^(a+)+$|\nmatch ok m|^a|\n";
    let m = Matcher::new(&ProbeDb::parse(text.as_bytes()).unwrap()).unwrap();
    let mut r = vec![b'a'; 40];
    r.push(b'!');
    let f = m.match_response(0, &r).unwrap();
    assert_eq!(f.service, "ok");
}
