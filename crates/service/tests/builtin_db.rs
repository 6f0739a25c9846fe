//! vigie's own probe database (`db/vigie-service-probes`, built in as
//! [`BUILTIN`]): it parses, it covers the services it claims, every
//! pattern compiles and none matches an empty response, and a table of
//! responses gets the service, product and version it should.
//!
//! Regex engine for these checks: `fancy-regex` (the matcher picks its
//! production engine separately). fancy-regex matches `&str`, so a
//! response is read as Latin-1: byte `b` becomes the char U+00bb, and a
//! pattern's `\xHH` (U+00HH) then matches byte HH exactly, `.` matches any
//! byte but `\n`. The flags become `(?i)` and `(?s)` prefixes. Two
//! differences from PCRE over bytes remain, both only ever wider: `\w`, `\s`
//! and case folding also take Latin-1 letters and spaces (bytes
//! 0x85, 0xa0, 0xc0-0xff). The file avoids relying on either.

use fancy_regex::Regex;
use vigie_service::builtin::BUILTIN;
use vigie_service::{Match, Probe, ProbeDb, Proto};

fn db() -> ProbeDb {
    ProbeDb::parse(BUILTIN.as_bytes()).unwrap_or_else(|e| panic!("vigie-service-probes: {e}"))
}

/// Bytes as a string of Latin-1 chars, one per byte.
fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// The chars of a Latin-1 string back as bytes.
fn bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

fn compile(m: &Match) -> Result<Regex, String> {
    let mut flags = String::new();
    if m.case_insensitive {
        flags.push('i');
    }
    if m.dot_all {
        flags.push('s');
    }
    let pattern = latin1(&m.pattern);
    let source = if flags.is_empty() {
        pattern
    } else {
        format!("(?{flags}){pattern}")
    };
    Regex::new(&source).map_err(|e| format!("line {}: {e}", m.line))
}

/// Distinct services with at least one hard match among the lines of the
/// probes of one protocol.
fn services(db: &ProbeDb, proto: Proto) -> std::collections::BTreeSet<&str> {
    db.probes
        .iter()
        .filter(|p| p.proto == proto)
        .flat_map(|p| &p.matches)
        .filter(|m| !m.soft)
        .map(|m| m.service.as_str())
        .collect()
}

#[test]
fn parses_and_covers_the_common_services() {
    let db = db();
    let (null, get) = (&db.probes[0], &db.probes[1]);
    assert_eq!((null.proto, null.name.as_str()), (Proto::Tcp, "NULL"));
    assert!(null.payload.is_empty());
    assert_eq!((get.name.as_str(), get.rarity), ("GetRequest", 1));
    assert!(db.exclude.tcp.contains(9100));
    let tcp = services(&db, Proto::Tcp);
    let udp = services(&db, Proto::Udp);
    assert!(tcp.len() >= 60, "{} TCP services: {tcp:?}", tcp.len());
    assert!(udp.len() >= 15, "{} UDP services: {udp:?}", udp.len());
    // The counts as they stand; change them with the file.
    assert_eq!(
        (tcp.len(), udp.len()),
        (TCP_SERVICES, UDP_SERVICES),
        "{tcp:?} {udp:?}"
    );
    for name in [
        "ftp",
        "ssh",
        "telnet",
        "smtp",
        "domain",
        "http",
        "pop3",
        "imap",
        "ldap",
        "microsoft-ds",
        "ms-wbt-server",
        "vnc",
        "mysql",
        "postgresql",
        "ms-sql-s",
        "oracle-tns",
        "redis",
        "mongodb",
        "memcached",
        "mqtt",
        "amqp",
        "kafka",
        "rsync",
        "ssl",
        "sip",
        "rpcbind",
        "xmpp",
        "irc",
        "nntp",
        "ipp",
        "docker",
        "zookeeper",
        "cassandra",
        "git",
        "X11",
        "socks5",
        "http-proxy",
    ] {
        assert!(tcp.contains(name), "no TCP match for {name}");
    }
    for name in [
        "domain",
        "ntp",
        "snmp",
        "sip",
        "netbios-ns",
        "upnp",
        "mdns",
        "tftp",
        "isakmp",
        "rpcbind",
    ] {
        assert!(udp.contains(name), "no UDP match for {name}");
    }
    // Every probe either has lines of its own or borrows them.
    for p in &db.probes {
        assert!(
            !p.matches.is_empty() || !p.fallback.is_empty(),
            "probe {} (line {}) can match nothing",
            p.name,
            p.line
        );
    }
}

const TCP_SERVICES: usize = 73;
const UDP_SERVICES: usize = 23;

#[test]
fn every_pattern_compiles_and_none_matches_nothing() {
    let db = db();
    let mut bad = Vec::new();
    let mut count = 0;
    for m in db.probes.iter().flat_map(|p| &p.matches) {
        count += 1;
        match compile(m) {
            Ok(re) => {
                if re.is_match("").unwrap_or(false) {
                    bad.push(format!("line {}: matches the empty response", m.line));
                }
            }
            Err(e) => bad.push(e),
        }
        // Templates never name a group the pattern lacks.
        let groups = compile(m).map(|re| re.captures_len() - 1).unwrap_or(0);
        let f = &m.fields;
        let highest = [
            &f.product,
            &f.version,
            &f.info,
            &f.hostname,
            &f.ostype,
            &f.devicetype,
        ]
        .into_iter()
        .flatten()
        .chain(f.cpe.iter().map(|(t, _)| t))
        .map(|t| usize::from(t.max_group()))
        .max()
        .unwrap_or(0);
        if highest > groups {
            bad.push(format!("line {}: ${highest} but {groups} groups", m.line));
        }
    }
    assert!(count > 300, "{count} lines");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The probe `name` of `proto`, or of the other protocol when this one has
/// none (the parser's rule for fallbacks).
fn probe<'a>(db: &'a ProbeDb, proto: Proto, name: &str) -> &'a Probe {
    db.probes
        .iter()
        .find(|p| p.proto == proto && p.name == name)
        .or_else(|| db.probes.iter().find(|p| p.name == name))
        .unwrap_or_else(|| panic!("no probe {name}"))
}

/// What one hard match says.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    service: String,
    product: String,
    version: String,
    info: String,
}

/// The first hard match for `response` among the probe's lines, then its
/// fallbacks' (in order), with its templates filled. Values are trimmed of
/// trailing spaces as the matcher trims them.
fn identify(db: &ProbeDb, proto: Proto, name: &str, response: &[u8]) -> Option<Found> {
    let p = probe(db, proto, name);
    let text = latin1(response);
    let lines = std::iter::once(p)
        .chain(p.fallback.iter().map(|f| probe(db, proto, f)))
        .flat_map(|p| &p.matches)
        .filter(|m| !m.soft);
    for m in lines {
        let re = compile(m).unwrap();
        let Some(caps) = re.captures(&text).unwrap() else {
            continue;
        };
        let groups = |g: u8| caps.get(usize::from(g)).map(|c| bytes(c.as_str()));
        let fill = |t: &Option<vigie_service::Template>| {
            let v = t.as_ref().map(|t| t.fill(&groups)).unwrap_or_default();
            String::from_utf8_lossy(&v).trim_end().to_string()
        };
        return Some(Found {
            service: m.service.clone(),
            product: fill(&m.fields.product),
            version: fill(&m.fields.version),
            info: fill(&m.fields.info),
        });
    }
    None
}

/// One response and what it must be read as. `source` says where the
/// bytes come from: "real" (sent by that daemon to this probe, captured on
/// loopback in a network namespace) or "spec" (built by hand, byte for
/// byte, from the document named).
struct Sample {
    source: &'static str,
    proto: Proto,
    probe: &'static str,
    response: &'static [u8],
    service: &'static str,
    product: &'static str,
    version: &'static str,
    /// Checked when not empty.
    info: &'static str,
}

const fn s(
    source: &'static str,
    proto: Proto,
    probe: &'static str,
    response: &'static [u8],
    expect: [&'static str; 4],
) -> Sample {
    Sample {
        source,
        proto,
        probe,
        response,
        service: expect[0],
        product: expect[1],
        version: expect[2],
        info: expect[3],
    }
}

use Proto::{Tcp as T, Udp as U};
const SAMPLES: &[Sample] = &[
    // real: OpenSSH 9.2p1 (Debian 12 sshd)
    s(
        "real",
        T,
        "NULL",
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n",
        ["ssh", "OpenSSH", "9.2p1 Debian 2+deb12u10", "protocol 2.0"],
    ),
    // real: Dropbear 2022.83 (Debian 12), first 26 bytes
    s(
        "real",
        T,
        "NULL",
        b"SSH-2.0-dropbear_2022.83\r\n",
        ["ssh", "Dropbear sshd", "2022.83", "protocol 2.0"],
    ),
    // real: vsftpd 3.0.3 (Debian 12)
    s(
        "real",
        T,
        "NULL",
        b"220 (vsFTPd 3.0.3)\r\n",
        ["ftp", "vsftpd", "3.0.3", ""],
    ),
    // real: Exim 4.96 (Debian 12 exim4-daemon-light)
    s(
        "real",
        T,
        "NULL",
        b"220 vm ESMTP Exim 4.96 Tue, 01 Dec 2026 16:33:31 +0000\r\n",
        ["smtp", "Exim smtpd", "4.96", ""],
    ),
    // real: Dovecot 2.3 imap-login (Debian 12)
    s(
        "real",
        T,
        "NULL",
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
        ["imap", "Dovecot imapd", "", ""],
    ),
    // real: Dovecot 2.3 pop3-login (Debian 12)
    s(
        "real",
        T,
        "NULL",
        b"+OK Dovecot (Debian) ready.\r\n",
        ["pop3", "Dovecot pop3d", "", ""],
    ),
    // real: inetutils telnetd 2.4 (Debian 12)
    s(
        "real",
        T,
        "NULL",
        b"\xff\xfb%\xff\xfb&\xff\xfd\x18\xff\xfd \xff\xfd#\xff\xfd'\xff\xfd$",
        ["telnet", "", "", ""],
    ),
    // real: MariaDB 10.11 (Debian 12)
    s(
        "real",
        T,
        "NULL",
        b"d\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1\x00\x03\x00\x00\x00G7y}+XZ;\x00\xfe\xf7-\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00Y.x5>vW36V1.\x00mysql_native_password\x00",
        ["mysql", "MariaDB", "10.11.19", ""],
    ),
    // real: rsync 3.2.7 daemon (Debian 12)
    s(
        "real",
        T,
        "NULL",
        b"@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n",
        ["rsync", "", "", "protocol version 32.0"],
    ),
    // real: nginx 1.22.1 (Debian 12), Debian default page, first 1200 bytes
    s(
        "real",
        T,
        "GetRequest",
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 16:33:08 GMT\r\nContent-Type: text/html\r\nContent-Length: 10701\r\nLast-Modified: Tue, 01 Dec 2026 16:22:10 GMT\r\nConnection: close\r\nETag: \"6b0ef432-29cd\"\r\nAccept-Ranges: bytes\r\n\r\n\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\n  <head>\n    <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n    <title>Apache2 Debian Default Page: It works</title>\n    <style type=\"text/css\" media=\"screen\">\n  * {\n    margin: 0px 0px 0px 0px;\n    padding: 0px 0px 0px 0px;\n  }\n\n  body, html {\n    padding: 3px 3px 3px 3px;\n\n    background-color: #D8DBE2;\n\n    font-family: Verdana, sans-serif;\n    font-size: 11pt;\n    text-align: center;\n  }\n\n  div.main_page {\n    position: relative;\n    display: table;\n\n    width: 800px;\n\n    margin-bottom: 3px;\n    margin-left: auto;\n    margin-right: auto;\n    padding: 0px 0px 0px 0px;\n\n    border-width: 2px;\n    border-color: #212738;\n    border-style: solid;\n\n    background-color: #FFFFFF;\n\n    text-align: center;\n  }\n\n  div.page_header {\n    height: 99px;\n    width: 100%;\n\n ",
        ["http", "nginx", "1.22.1", "Apache2 Debian Default Page: It works"],
    ),
    // real: nginx 1.22.1 answering a ClientHello on a plain port
    s(
        "real",
        T,
        "TLSClientHello",
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 16:33:35 GMT\r\nContent-Type: text/html\r\nContent-Length: 157\r\nConnection: close\r\n\r\n<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n",
        ["http", "nginx", "1.22.1", ""],
    ),
    // real: nginx 1.22.1 TLS port: ServerHello, first 100 bytes
    s(
        "real",
        T,
        "TLSClientHello",
        b"\x16\x03\x03\x00Y\x02\x00\x00U\x03\x03Hj\xf7b\x81\x8c8\x1fdw\xa3q\xf9\xd8\x0b\x83S\xfa\xcb^\"\xdcR0\x16\xcb\x0c\xcb\xd2X\"\xc7 \xa2X\t\xcf\x01K\xa4\xc5\xcc\x0eY\xbb\xd5|E\xda\xa3\xec\x98r\r\xafG\xad\xeb[<\x8fu\xf6\x07\xca\xc0/\x00\x00\r\xff\x01\x00\x01\x00\x00\x0b\x00\x04\x03\x00\x01\x02\x16\x03\x03\x03\x19\x0b",
        ["ssl", "", "", ""],
    ),
    // real: nginx 1.22.1 TLS port answering plain HTTP
    s(
        "real",
        T,
        "GetRequest",
        b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 16:33:37 GMT\r\nContent-Type: text/html\r\nContent-Length: 255\r\nConnection: close\r\n\r\n<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n",
        ["ssl", "nginx", "", ""],
    ),
    // real: lighttpd 1.4.69 (Debian 12)
    s(
        "real",
        T,
        "GetRequest",
        b"HTTP/1.0 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 341\r\nConnection: close\r\nDate: Tue, 01 Dec 2026 16:33:08 GMT\r\nServer: lighttpd/1.4.69\r\n\r\n<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>403 Forbidden</title>\n </head>\n <body>\n  <h1>403 Forbidden</h1>\n </body>\n</html>\n",
        ["http", "lighttpd", "1.4.69", "403 Forbidden"],
    ),
    // real: Apache httpd 2.4 (Debian 12)
    s(
        "real",
        T,
        "GetRequest",
        b"HTTP/1.1 404 Not Found\r\nDate: Tue, 01 Dec 2026 16:30:42 GMT\r\nServer: Apache/2.4.71 (Debian)\r\nContent-Length: 236\r\nConnection: close\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n",
        ["http", "Apache httpd", "2.4.71", "Debian"],
    ),
    // real: Python 3.11 http.server, first 400 bytes
    s(
        "real",
        T,
        "GetRequest",
        b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nDate: Tue, 01 Dec 2026 16:33:08 GMT\r\nContent-type: text/html; charset=utf-8\r\nContent-Length: 1486\r\n\r\n<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Directory listing for /</title>\n</head>\n<body>\n<h1>Directory listing for /</h1>\n<hr>\n<ul>\n<li><a href=\"apache/\">apache/</a></li>\n<li><a href=\"apache.conf\">apache.conf</a></li",
        ["http", "SimpleHTTPServer", "0.6", "Python 3.11.7"],
    ),
    // real: Redis 7.0.15 (Debian 12), INFO server
    s(
        "real",
        T,
        "RedisInfo",
        b"$582\r\n# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:ae4d7c971a948f0\r\nredis_mode:standalone\r\nos:Linux 6.18.44-fc-v857 x86_64\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:12.2.0\r\nprocess_id:30651\r\nprocess_supervised:no\r\nrun_id:5481a8278d9296a324ffcd75cde1629a5bcc0205\r\ntcp_port:6390\r\nserver_time_usec:1796142788229215\r\nuptime_in_seconds:16\r\nuptime_in_days:0\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:980676\r\nexecutable:/tmp/vdb/run/redis-server\r\nconfig_file:\r\nio_threads_active:0\r\n\r\n",
        ["redis", "Redis key-value store", "7.0.15", ""],
    ),
    // real: Redis 7.0.15 answering GET / HTTP/1.0
    s(
        "real",
        T,
        "GetRequest",
        b"-ERR wrong number of arguments for 'get' command\r\n",
        ["redis", "Redis key-value store", "", ""],
    ),
    // real: Redis 7.0.15 answering "version"
    s(
        "real",
        T,
        "MemcachedVersion",
        b"-ERR unknown command 'version', with args beginning with: \r\n",
        ["redis", "Redis key-value store", "", ""],
    ),
    // real: memcached 1.6.18 (Debian 12)
    s(
        "real",
        T,
        "MemcachedVersion",
        b"VERSION 1.6.18\r\n",
        ["memcached", "Memcached", "1.6.18", ""],
    ),
    // real: memcached 1.6.18 over UDP (-U)
    s(
        "real",
        U,
        "MemcachedVersionUDP",
        b"\x00\x01\x00\x00\x00\x01\x00\x00VERSION 1.6.18\r\n",
        ["memcached", "Memcached", "1.6.18", ""],
    ),
    // real: Mosquitto 2.0 (Debian 12), anonymous allowed
    s(
        "real",
        T,
        "MQTTConnect",
        b" \x02\x00\x00",
        ["mqtt", "", "", "connection accepted"],
    ),
    // real: dnsmasq 2.90 over TCP
    s(
        "real",
        T,
        "DNSVersionBindReqTCP",
        b"\x007\x00\x06\x85\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\r\x0cdnsmasq-2.90",
        ["domain", "dnsmasq", "2.90", ""],
    ),
    // real: dnsmasq 2.90 over UDP
    s(
        "real",
        U,
        "DNSVersionBindReq",
        b"\x00\x06\x85\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\r\x0cdnsmasq-2.90",
        ["domain", "dnsmasq", "2.90", ""],
    ),
    // real: BIND 9.18 (Debian 12 bind9) over TCP
    s(
        "real",
        T,
        "DNSVersionBindReqTCP",
        b"\x00C\x00\x06\x85\x00\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x19\x189.18.49-1~deb12u3-Debian",
        ["domain", "ISC BIND", "9.18.49-1~deb12u3-Debian", ""],
    ),
    // real: BIND 9.18 (Debian 12 bind9) over UDP
    s(
        "real",
        U,
        "DNSVersionBindReq",
        b"\x00\x06\x85\x00\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x19\x189.18.49-1~deb12u3-Debian",
        ["domain", "ISC BIND", "9.18.49-1~deb12u3-Debian", ""],
    ),
    // real: PostgreSQL 15 (Debian 12), trust, unknown role
    s(
        "real",
        T,
        "PostgreSQLStartup",
        b"R\x00\x00\x00\x08\x00\x00\x00\x00E\x00\x00\x00aSFATAL\x00VFATAL\x00C28000\x00Mrole \"vigie\" does not exist\x00Fmiscinit.c\x00L768\x00RInitializeSessionUserId\x00\x00",
        ["postgresql", "PostgreSQL DB", "", ""],
    ),
    // real: git daemon 2.39 --informative-errors
    s(
        "real",
        T,
        "GitUploadPack",
        b"001dERR no such repository: /",
        ["git", "Git daemon", "", "no such repository: /"],
    ),
    // real: ngIRCd 26.1 (Debian 12), first 600 bytes
    s(
        "real",
        T,
        "IRCRegister",
        b":irc.vigie.test 001 vigie :Welcome to the Internet Relay Network vigie!~vigie@127.0.0.1\r\n:irc.vigie.test 002 vigie :Your host is irc.vigie.test, running version ngircd-26.1 (x86_64/pc/linux-gnu)\r\n:irc.vigie.test 003 vigie :This server has been started Tue Dec 01 2026 at 16:32:52 (UTC)\r\n:irc.vigie.test 004 vigie irc.vigie.test ngircd-26.1 abBcCFiIoqrRswx abehiIklmMnoOPqQrRstvVz\r\n:irc.vigie.test 005 vigie RFC2812 IRCD=ngIRCd CHARSET=UTF-8 CASEMAPPING=ascii PREFIX=(qaohv)~&@%+ CHANTYPES=#&+ CHANMODES=beI,k,l,imMnOPQRstVz CHANLIMIT=#&+:10 :are supported on this server\r\n:irc.vigie.test 005 vigie CH",
        ["irc", "ngIRCd", "26.1", ""],
    ),
    // real: ngIRCd 26.1 answering "version"
    s(
        "real",
        T,
        "IRCRegister",
        b":irc.vigie.test 451 * :Connection not registered\r\n",
        ["irc", "", "", ""],
    ),
    // real: rpcbind 1.2.6 (Debian 12) over TCP
    s(
        "real",
        T,
        "RPCCheck",
        b"\x80\x00\x00\x18VGRP\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ["rpcbind", "", "", "RPC #100000"],
    ),
    // real: rpcbind 1.2.6 (Debian 12) over UDP
    s(
        "real",
        U,
        "RPCCheck",
        b"VGRP\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ["rpcbind", "", "", "RPC #100000"],
    ),
    // real: slapd 2.5 (Debian 12 OpenLDAP)
    s(
        "real",
        T,
        "LDAPSearchRootDSE",
        b"0s\x02\x01\x07dn\x04\x000j0*\x04\x15structuralObjectClass1\x11\x04\x0fOpenLDAProotDSE0\x1f\x04\x0enamingContexts1\r\x04\x0bdc=nodomain0\x1b\x04\x14supportedLDAPVersion1\x03\x04\x0130\x0c\x02\x01\x07e\x07\n\x01\x00\x04\x00\x04\x00",
        ["ldap", "OpenLDAP", "", ""],
    ),
    // real: snmpd 5.9 (Debian 12 net-snmp), v1
    s(
        "real",
        U,
        "SNMPv1GetSysDescr",
        b"0b\x02\x01\x00\x04\x06public\xa2U\x02\x04vgsn\x02\x01\x00\x02\x01\x000G0E\x06\x08+\x06\x01\x02\x01\x01\x01\x00\x049Linux vm 6.18.44-fc-v857 #1 SMP PREEMPT_DYNAMIC @0 x86_64",
        ["snmp", "", "", "SNMPv1; public"],
    ),
    // real: snmpd 5.9 (Debian 12 net-snmp), v2c
    s(
        "real",
        U,
        "SNMPv2cGetSysDescr",
        b"0b\x02\x01\x01\x04\x06public\xa2U\x02\x04vgsn\x02\x01\x00\x02\x01\x000G0E\x06\x08+\x06\x01\x02\x01\x01\x01\x00\x049Linux vm 6.18.44-fc-v857 #1 SMP PREEMPT_DYNAMIC @0 x86_64",
        ["snmp", "", "", "SNMPv2c; public"],
    ),
    // real: snmpd 5.9 (Debian 12 net-snmp), v3 discovery
    s(
        "real",
        U,
        "SNMPv3Discovery",
        b"0q\x02\x01\x030\x11\x02\x04vgs3\x02\x03\x00\xff\xe3\x04\x01\x00\x02\x01\x03\x04!0\x1f\x04\x11\x80\x00\x1f\x88\x80\xebE\x1bv\xb4\xf6\x0ek\x00\x00\x00\x00\x02\x01\x01\x02\x014\x04\x00\x04\x00\x04\x0006\x04\x11\x80\x00\x1f\x88\x80\xebE\x1bv\xb4\xf6\x0ek\x00\x00\x00\x00\x04\x00\xa8\x1f\x02\x04vgs3\x02\x01\x00\x02\x01\x000\x110\x0f\x06\n+\x06\x01\x06\x03\x0f\x01\x01\x04\x00A\x01\x01",
        ["snmp", "net-snmp", "", "SNMPv3"],
    ),
    // real: chronyd 4.3 (Debian 12)
    s(
        "real",
        U,
        "NTPRequest",
        b"$\x08\x06\xe7\x00\x00\x00\x00\x00\x00\x00\x00\x7f\x7f\x01\x01\xee\xb9uf\xe5\xcds\x7f\x00\x00\x00\x00vgnt\xee\xb9uh\x0b\x95\xa6\x99\xee\xb9uh\x0b\x98\xe5\xbe",
        ["ntp", "", "", "NTP v4"],
    ),
    // spec: RFC 6143 7.1.1 ProtocolVersion
    s(
        "spec",
        T,
        "NULL",
        b"RFB 003.008\n",
        ["vnc", "", "", "protocol 3.8"],
    ),
    // spec: Postfix smtpd_banner as Debian sets it ($myhostname ESMTP $mail_name (Debian/GNU))
    s(
        "spec",
        T,
        "NULL",
        b"220 mx.vigie.test ESMTP Postfix (Debian/GNU)\r\n",
        ["smtp", "Postfix smtpd", "", ""],
    ),
    // spec: Sendmail's SmtpGreetingMessage ($j Sendmail $v/$Z; $b) with ESMTP
    s(
        "spec",
        T,
        "NULL",
        b"220 mx.vigie.test ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; Tue, 1 Dec 2026 16:00:00 GMT\r\n",
        ["smtp", "Sendmail", "8.17.1.9", ""],
    ),
    // spec: RFC 5804 1.7 capability response (Dovecot Pigeonhole names itself)
    s(
        "spec",
        T,
        "NULL",
        b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SIEVE\" \"fileinto reject\"\r\nOK \"Ready\"\r\n",
        ["sieve", "Dovecot Pigeonhole sieve", "", ""],
    ),
    // spec: NATS client protocol, INFO
    s(
        "spec",
        T,
        "NULL",
        b"INFO {\"server_id\":\"NDXV2\",\"server_name\":\"n1\",\"version\":\"2.10.7\",\"proto\":1,\"go\":\"go1.21.5\",\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\"max_payload\":1048576}\r\n",
        ["nats", "NATS server", "2.10.7", ""],
    ),
    // spec: RFC 1288 / BSD fingerd reply to an empty query
    s(
        "spec",
        T,
        "FingerQuery",
        b"No one logged on.\r\n",
        ["finger", "", "", ""],
    ),
    // spec: RFC 1413 6 error reply
    s(
        "spec",
        T,
        "IdentQuery",
        b"1 , 1 : ERROR : NO-USER\r\n",
        ["ident", "", "", ""],
    ),
    // spec: RFC 864 chargen first line
    s(
        "spec",
        T,
        "NULL",
        b" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n",
        ["chargen", "", "", ""],
    ),
    // spec: MS-SMB2 2.2.4 NEGOTIATE response, dialect 0x0302
    s(
        "spec",
        T,
        "SMBNegotiate",
        b"\x00\x00\x00\x80\xfeSMB@\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xfe\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00A\x00\x01\x00\x02\x03\x00\x00vigie-server-gid\x07\x00\x00\x00\x00\x00\x80\x00\x00\x00\x80\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00",
        ["microsoft-ds", "", "", "SMB 3.0.2"],
    ),
    // spec: MS-RDPBCGR 2.2.1.2 Connection Confirm with RDP_NEG_RSP (TLS)
    s(
        "spec",
        T,
        "RDPConnectionRequest",
        b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x1f\x08\x00\x01\x00\x00\x00",
        ["ms-wbt-server", "", "", "RDP negotiation response"],
    ),
    // spec: MS-TDS 2.2.6.5 PRELOGIN response, SQL Server 15.0.2000.5
    s(
        "spec",
        T,
        "MSSQLPrelogin",
        b"\x04\x01\x00+\x00\x00\x01\x00\x00\x00\x1a\x00\x06\x01\x00 \x00\x01\x02\x00!\x00\x01\x03\x00\"\x00\x00\x04\x00\"\x00\x01\xff\x0f\x00\x07\xd0\x00\x05\x02\x00\x00",
        ["ms-sql-s", "Microsoft SQL Server 2019", "15.0.2000", ""],
    ),
    // spec: Oracle Net REFUSE packet (type 4) with a DESCRIPTION
    s(
        "spec",
        T,
        "OracleTNSConnect",
        b"\x00e\x00\x00\x04\x00\x00\x00\x01\x01\x00Y(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR=1189)(ERROR_STACK=(ERROR=(CODE=1189)(EMFI=4))))",
        ["oracle-tns", "Oracle TNS listener", "", "VSNNUM 318767104"],
    ),
    // spec: MongoDB wire protocol OP_MSG reply to buildinfo
    s(
        "spec",
        T,
        "MongoDBBuildInfo",
        b"R\x00\x00\x00*\x00\x00\x00vgmb\xdd\x07\x00\x00\x00\x00\x00\x00\x00=\x00\x00\x00\x02version\x00\x06\x00\x00\x007.0.5\x00\x02gitVersion\x00\t\x00\x00\x009a2d1f3c\x00\x01ok\x00\x00\x00\x00\x00\x00\x00\xf0?\x00",
        ["mongodb", "MongoDB", "7.0.5", ""],
    ),
    // spec: AMQP 0-9-1 4.2.3 method frame Connection.Start (RabbitMQ server-properties)
    s(
        "spec",
        T,
        "AMQPHeader",
        b"\x01\x00\x00\x00\x00\x00\xce\x00\n\x00\n\x00\t\x00\x00\x00\xa9\x0ccluster_nameS\x00\x00\x00\x0crabbit@vigie\tcopyrightS\x00\x00\x007Copyright (c) 2007-2023 VMware, Inc. or its affiliates.\x08platformS\x00\x00\x00\x0fErlang/OTP 25.3\x07productS\x00\x00\x00\x08RabbitMQ\x07versionS\x00\x00\x00\x063.12.1\x00\x00\x00\x0eAMQPLAIN PLAIN\x00\x00\x00\x05en_US\xce",
        ["amqp", "RabbitMQ", "3.12.1", "AMQP 0-9-1"],
    ),
    // spec: Kafka protocol ApiVersions v0 response
    s(
        "spec",
        T,
        "KafkaApiVersions",
        b"\x00\x00\x00\x1cvgkf\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\t\x00\x01\x00\x00\x00\r\x00\x12\x00\x00\x00\x03",
        ["kafka", "", "", "ApiVersions"],
    ),
    // spec: ZooKeeper admin guide, srvr output
    s(
        "spec",
        T,
        "ZookeeperSrvr",
        b"Zookeeper version: 3.8.3-6ad6d364c7c0bcf0de452d54ebefa3058098ab56, built on 2023-10-05 10:34 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n",
        ["zookeeper", "Zookeeper", "3.8.3", ""],
    ),
    // spec: CQL native protocol v4 4.2.4 SUPPORTED
    s(
        "spec",
        T,
        "CassandraOptions",
        b"\x84\x00\x00\x01\x06\x00\x00\x00[\x00\x03\x00\x11PROTOCOL_VERSIONS\x00\x03\x00\x043/v3\x00\x044/v4\x00\x045/v5\x00\x0bCOMPRESSION\x00\x02\x00\x06snappy\x00\x03lz4\x00\x0bCQL_VERSION\x00\x01\x00\x053.4.6",
        ["cassandra", "Apache Cassandra", "", "CQL 3.4.6"],
    ),
    // spec: X Window System Protocol, connection setup Failed reply
    s(
        "spec",
        T,
        "X11Setup",
        b"\x00@\x0b\x00\x00\x00\x10\x00Authorization required, but no authorization protocol specified\n",
        ["X11", "", "", "access denied"],
    ),
    // spec: RFC 1928 3 METHOD selection, no authentication
    s(
        "spec",
        T,
        "Socks5Methods",
        b"\x05\x00",
        ["socks5", "", "", "No authentication"],
    ),
    // spec: SOCKS4 protocol, request rejected (91)
    s(
        "spec",
        T,
        "Socks4Connect",
        b"\x00[\x00\x00\x00\x00\x00\x00",
        ["socks4", "", "", ""],
    ),
    // spec: Elasticsearch REST API root endpoint (GET /)
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 200 OK\r\nX-elastic-product: Elasticsearch\r\ncontent-type: application/json\r\ncontent-length: 540\r\n\r\n{\n  \"name\" : \"es01\",\n  \"cluster_name\" : \"docker-cluster\",\n  \"cluster_uuid\" : \"Zr3nZrXyQpS1b1QfOeP3xA\",\n  \"version\" : {\n    \"number\" : \"8.11.1\",\n    \"build_flavor\" : \"default\",\n    \"build_type\" : \"docker\",\n    \"lucene_version\" : \"9.8.0\"\n  },\n  \"tagline\" : \"You Know, for Search\"\n}\n",
        ["http", "Elasticsearch REST API", "8.11.1", "cluster docker-cluster"],
    ),
    // spec: Docker Engine API, unknown path
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 404 Not Found\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/24.0.7 (linux)\r\nDate: Tue, 01 Dec 2026 16:00:00 GMT\r\nContent-Length: 29\r\n\r\n{\"message\":\"page not found\"}\n",
        ["docker", "Docker Engine API", "24.0.7", ""],
    ),
    // spec: Kubernetes API Status object for an anonymous request
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 403 Forbidden\r\nAudit-Id: 6c1c\r\nCache-Control: no-cache, private\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nDate: Tue, 01 Dec 2026 16:00:00 GMT\r\nContent-Length: 217\r\n\r\n{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {},\n  \"status\": \"Failure\",\n  \"message\": \"forbidden: User \\\"system:anonymous\\\" cannot get path \\\"/\\\"\",\n  \"reason\": \"Forbidden\",\n  \"details\": {},\n  \"code\": 403\n}",
        ["http", "Kubernetes API server", "", ""],
    ),
    // spec: RFC 8010 / CUPS Server header
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Language: en_US\r\nContent-Type: text/html; charset=utf-8\r\nServer: CUPS/2.4 IPP/2.1\r\n\r\n<!DOCTYPE HTML>",
        ["ipp", "CUPS", "2.4", "IPP 2.1"],
    ),
    // spec: Squid error reply Server header
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 400 Bad Request\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\nContent-Type: text/html;charset=utf-8\r\n\r\n",
        ["http-proxy", "Squid http proxy", "5.7", ""],
    ),
    // spec: Tomcat error report page
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 404 \r\nContent-Type: text/html;charset=utf-8\r\nContent-Language: en\r\n\r\n<!doctype html><html lang=\"en\"><head><title>HTTP Status 404 \xe2\x80\x93 Not Found</title></head><body><h1>HTTP Status 404 \xe2\x80\x93 Not Found</h1><hr class=\"line\" /><h3>Apache Tomcat/10.1.16</h3></body></html>",
        ["http", "Apache Tomcat", "10.1.16", ""],
    ),
    // spec: Werkzeug development server Server header
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 404 NOT FOUND\r\nServer: Werkzeug/3.0.1 Python/3.11.2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
        ["http", "Werkzeug httpd", "3.0.1", "Python 3.11.2"],
    ),
    // spec: gunicorn Server header
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 200 OK\r\nServer: gunicorn\r\nContent-Length: 2\r\n\r\nok",
        ["http", "Gunicorn", "", ""],
    ),
    // spec: IIS Server header
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nServer: Microsoft-IIS/10.0\r\nContent-Length: 0\r\n\r\n",
        ["http", "Microsoft IIS httpd", "10.0", ""],
    ),
    // spec: Jetty Server header
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 404 Not Found\r\nServer: Jetty(9.4.53.v20231009)\r\n\r\n",
        ["http", "Jetty", "9.4.53.v20231009", ""],
    ),
    // spec: Caddy Server header
    s(
        "spec",
        T,
        "GetRequest",
        b"HTTP/1.1 200 OK\r\nServer: Caddy\r\n\r\n",
        ["http", "Caddy httpd", "", ""],
    ),
    // spec: Prometheus text exposition format, node_exporter
    s(
        "spec",
        T,
        "PrometheusMetrics",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\r\n# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 8\n# HELP node_exporter_build_info A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.\n# TYPE node_exporter_build_info gauge\nnode_exporter_build_info{branch=\"HEAD\",goarch=\"amd64\",goos=\"linux\",goversion=\"go1.21.4\",revision=\"7333465\",tags=\"netgo osusergo static_build\",version=\"1.7.0\"} 1\n",
        ["http", "Prometheus node_exporter", "1.7.0", ""],
    ),
    // spec: RFC 2326 OPTIONS reply
    s(
        "spec",
        T,
        "RTSPOptions",
        b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\nServer: GStreamer RTSP server\r\n\r\n",
        ["rtsp", "GStreamer rtspd", "", ""],
    ),
    // spec: RFC 3261 OPTIONS 200 reply, Asterisk Server header
    s(
        "spec",
        U,
        "SIPOptions",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP vigie.invalid:5060;branch=z9hG4bKvigie0001;received=198.18.0.2;rport=5060\r\nFrom: <sip:vigie@vigie.invalid>;tag=vigie0001\r\nTo: <sip:vigie@vigie.invalid>;tag=as1\r\nCall-ID: vigie0001@vigie.invalid\r\nCSeq: 1 OPTIONS\r\nServer: Asterisk PBX 20.5.0\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\nContent-Length: 0\r\n\r\n",
        ["sip", "Asterisk", "20.5.0", ""],
    ),
    // spec: RFC 3261 OPTIONS over TCP (borrows the UDP lines)
    s(
        "spec",
        T,
        "SIPOptionsTCP",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP vigie.invalid:5060;branch=z9hG4bKvigie0001;received=198.18.0.2;rport=5060\r\nFrom: <sip:vigie@vigie.invalid>;tag=vigie0001\r\nTo: <sip:vigie@vigie.invalid>;tag=as1\r\nCall-ID: vigie0001@vigie.invalid\r\nCSeq: 1 OPTIONS\r\nServer: Asterisk PBX 20.5.0\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\nContent-Length: 0\r\n\r\n",
        ["sip", "Asterisk", "20.5.0", ""],
    ),
    // spec: UPnP DA 1.1 1.3.3 search response, MiniUPnPd
    s(
        "spec",
        U,
        "SSDPSearch",
        b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\nUSN: uuid:0e2b::upnp:rootdevice\r\nEXT:\r\nSERVER: OpenWRT/23.05 UPnP/1.1 MiniUPnPd/2.3.3\r\nLOCATION: http://198.18.0.1:5000/rootDesc.xml\r\n\r\n",
        ["upnp", "MiniUPnP", "2.3.3", "OpenWRT/23.05 UPnP/1.1"],
    ),
    // spec: RFC 1002 4.2.18 NODE STATUS RESPONSE
    s(
        "spec",
        U,
        "NBNSStatus",
        b"VG\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00 CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00!\x00\x01\x00\x00\x00\x00\x00S\x02FILESERVER     \x00\x04\x00WORKGROUP      \x00\x84\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ["netbios-ns", "", "", ""],
    ),
    // spec: RFC 6762 6.7 legacy unicast response
    s(
        "spec",
        U,
        "MDNSServices",
        b"\x00\x07\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00\t_services\x07_dns-sd\x04_udp\x05local\x00\x00\x0c\x00\x01\xc0\x0c\x00\x0c\x00\x01\x00\x00\x00\n\x00\x0b\x05_http\x04_tcp\xc0#",
        ["mdns", "", "", ""],
    ),
    // spec: RFC 1350 5 ERROR packet, file not found
    s(
        "spec",
        U,
        "TFTPRead",
        b"\x00\x05\x00\x01File not found\x00",
        ["tftp", "", "", ""],
    ),
    // spec: RFC 2408 3.1 header: our cookie, a responder cookie, SA reply
    s(
        "spec",
        U,
        "IKEMainMode",
        b"VIGIEIKE\x8a\x1b,=N_`q\x01\x10\x02\x00\x00\x00\x00\x00\x00\x00\x00T\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ["isakmp", "", "", "IKEv1 main mode"],
    ),
    // spec: RFC 4120 5.9.1 KRB-ERROR (KDC_ERR_WRONG_REALM)
    s(
        "spec",
        U,
        "KerberosASReq",
        b"~`0^\xa0\x03\x02\x01\x05\xa1\x03\x02\x01\x1e\xa4\x11\x18\x0f20261201160000Z\xa5\x05\x02\x03\x01\xe2@\xa6\x03\x02\x01D\xa9\x0f\x1b\rVIGIE.INVALID\xaa\"0 \xa0\x03\x02\x01\x02\xa1\x190\x17\x1b\x06krbtgt\x1b\rVIGIE.INVALID",
        ["kerberos-sec", "", "", ""],
    ),
    // spec: RFC 4120 7.2.2 KRB-ERROR over TCP
    s(
        "spec",
        T,
        "KerberosASReqTCP",
        b"\x00\x00\x00b~`0^\xa0\x03\x02\x01\x05\xa1\x03\x02\x01\x1e\xa4\x11\x18\x0f20261201160000Z\xa5\x05\x02\x03\x01\xe2@\xa6\x03\x02\x01D\xa9\x0f\x1b\rVIGIE.INVALID\xaa\"0 \xa0\x03\x02\x01\x02\xa1\x190\x17\x1b\x06krbtgt\x1b\rVIGIE.INVALID",
        ["kerberos-sec", "", "", ""],
    ),
    // spec: RFC 9000 17.2.1 Version Negotiation
    s(
        "spec",
        U,
        "QUICVersionNegotiation",
        b"\xc3\x00\x00\x00\x00\x08VIGIESRC\x08VIGIEDST\x00\x00\x00\x01k3C\xcf",
        ["quic", "", "", "QUIC v1"],
    ),
    // spec: RFC 7252 3 ACK 2.05 Content
    s(
        "spec",
        U,
        "CoAPWellKnownCore",
        b"`Evg\xc1(\xff</.well-known/core>;ct=40",
        ["coap", "", "", ""],
    ),
    // spec: RFC 8489 Binding success response with SOFTWARE (coturn)
    s(
        "spec",
        U,
        "STUNBinding",
        b"\x01\x01\x00\x18!\x12\xa4BVIGIESTUNTX1\x80\"\x00\x14Coturn-4.6.1 'Gorst'",
        ["stun", "coturn", "4.6.1", ""],
    ),
    // spec: MC-SQLR 2.2.5 SVR_RESP
    s(
        "spec",
        U,
        "MSSQLBrowser",
        b"\x05W\x00ServerName;SQL01;InstanceName;MSSQLSERVER;IsClustered;No;Version;15.0.2000.5;tcp;1433;;",
        ["ms-sql-m", "Microsoft SQL Server", "15.0.2000.5", "instance MSSQLSERVER"],
    ),
    // spec: IPMI 2.0 22.13 Get Channel Authentication Capabilities response
    s(
        "spec",
        U,
        "IPMIChannelAuth",
        b"\x06\x00\xff\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x81\x1cc \x008\x00\x01\x97\x04\x03\x00\x00\x00\x00\t",
        ["asf-rmcp", "IPMI", "", ""],
    ),
    // spec: RFC 6886 3.2 external address response
    s(
        "spec",
        U,
        "NATPMPAddress",
        b"\x00\x80\x00\x00\x00\x00\x1c \xc6\x12\x00\x01",
        ["nat-pmp", "", "", "external address 198.18.0.1"],
    ),
    // spec: RFC 6347 4.2.1 HelloVerifyRequest
    s(
        "spec",
        U,
        "DTLSClientHello",
        b"\x16\xfe\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00#\x03\x00\x00\x17\x00\x00\x00\x00\x00\x00\x00\x17\xfe\xff\x14cccccccccccccccccccc",
        ["dtls", "", "", ""],
    ),
    // spec: OpenVPN protocol P_CONTROL_HARD_RESET_SERVER_V2 (no tls-auth)
    s(
        "spec",
        U,
        "OpenVPNReset",
        b"@\x11\"3DUfw\x88\x01\x00\x00\x00\x00VGOVPNID\x00\x00\x00\x00",
        ["openvpn", "OpenVPN", "", ""],
    ),
    // spec: RFC 9327 READVAR response from ntpd
    s(
        "spec",
        U,
        "NTPControlReadVar",
        b"\x16\x82\x00\x01\x06\x15\x00\x00\x00\x00\x00\x7fversion=\"ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1)\", processor=\"x86_64\", system=\"Linux/6.1.0\", leap=00, stratum=2",
        ["ntp", "NTP", "4.2.8p15", ""],
    ),
    // spec: C706 12.6.4.4 bind_ack
    s(
        "spec",
        T,
        "DCERPCBind",
        b"\x05\x00\x0c\x03\x10\x00\x00\x00<\x00\x00\x00\x01\x00\x00\x00\xb8\x10\xb8\x10\x124\x00\x00\x04\x00135\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04]\x88\x8a\xeb\x1c\xc9\x11\x9f\xe8\x08\x00+\x10H`\x02\x00\x00\x00",
        ["msrpc", "", "", "bind_ack"],
    ),
    // spec: Java RMI wire protocol ProtocolAck
    s(
        "spec",
        T,
        "JavaRMI",
        b"N\x00\n198.18.0.2\x00\x00\xc3P",
        ["java-rmi", "Java RMI", "", ""],
    ),
    // spec: AJP 1.3 CPong reply
    s(
        "spec",
        T,
        "AJPCPing",
        b"AB\x00\x01\t",
        ["ajp13", "Apache Jserv", "", "Protocol v1.3"],
    ),
    // spec: Zabbix agent protocol reply to agent.version
    s(
        "spec",
        T,
        "ZabbixAgent",
        b"ZBXD\x01\x06\x00\x00\x00\x00\x00\x00\x006.0.25",
        ["zabbix-agent", "Zabbix agent", "6.0.25", ""],
    ),
    // spec: Bolt handshake: version 5.4 chosen
    s(
        "spec",
        T,
        "Neo4jBolt",
        b"\x00\x00\x04\x05",
        ["neo4j", "Neo4j", "", "Bolt 5.4"],
    ),
    // spec: Minecraft server list ping Status Response
    s(
        "spec",
        T,
        "MinecraftPing",
        b"\x95\x01\x00\x92\x01{\"version\":{\"name\":\"1.20.4\",\"protocol\":765},\"enforcesSecureChat\":true,\"description\":{\"text\":\"A Minecraft Server\"},\"players\":{\"max\":20,\"online\":0}}",
        ["minecraft", "Minecraft", "1.20.4", "protocol 765"],
    ),
    // spec: Tor control-spec 3.21 PROTOCOLINFO reply
    s(
        "spec",
        T,
        "TorProtocolInfo",
        b"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/run/tor/control.authcookie\"\r\n250-VERSION Tor=\"0.4.8.9\"\r\n250 OK\r\n",
        ["tor-control", "Tor", "0.4.8.9", ""],
    ),
    // spec: RFC 2637 2.2 Start-Control-Connection-Reply
    s(
        "spec",
        T,
        "PPTPStartControl",
        b"\x00\x9c\x00\x01\x1a+<M\x00\x02\x00\x00\x01\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01gw.vigie.test\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00MikroTik\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ["pptp", "", "", "vendor: MikroTik"],
    ),
    // spec: STOMP 1.2 CONNECTED frame from RabbitMQ
    s(
        "spec",
        T,
        "STOMPConnect",
        b"CONNECTED\nserver:RabbitMQ/3.12.1\nsession:session-x1\nheart-beat:0,0\nversion:1.2\n\n\x00",
        ["stomp", "RabbitMQ", "3.12.1", ""],
    ),
    // spec: Erlang distribution protocol NAMES_RESP
    s(
        "spec",
        T,
        "EPMDNames",
        b"\x00\x00\x11\x11name rabbit at port 25672\n",
        ["epmd", "Erlang Port Mapper Daemon", "", "node rabbit on port 25672"],
    ),
    // spec: clamd VERSION reply (z-form, NUL-terminated)
    s(
        "spec",
        T,
        "ClamAVVersion",
        b"ClamAV 1.0.5/27182/Tue Feb 13 09:27:18 2024\x00",
        ["clamav", "ClamAV", "1.0.5", "signatures 27182"],
    ),
    // spec: spamd protocol PONG
    s(
        "spec",
        T,
        "SpamdPing",
        b"SPAMD/1.5 0 PONG\r\n",
        ["spamassassin", "SpamAssassin spamd", "", "protocol 1.5"],
    ),
    // spec: Courier-IMAP greeting
    s(
        "spec",
        T,
        "NULL",
        b"* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS ENABLE UTF8=ACCEPT] Courier-IMAP ready. Copyright 1998-2022 Double Precision, Inc.  See COPYING for distribution information.\r\n",
        ["imap", "Courier imapd", "", ""],
    ),
    // spec: OpenWire WireFormatInfo (version 12)
    s(
        "spec",
        T,
        "NULL",
        b"\x00\x00\x01\n\x01ActiveMQ\x00\x00\x00\x0c\x01\x00\x00\x00\xf8",
        ["openwire", "Apache ActiveMQ", "", "OpenWire version 12"],
    ),
    // spec: RFC 5531 MSG_ACCEPTED / PROG_UNAVAIL from another RPC program
    s(
        "spec",
        T,
        "RPCCheck",
        b"\x80\x00\x00\x18VGRP\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01",
        ["rpc", "", "", ""],
    ),
    // spec: MySQL protocol ERR packet 1130 before the handshake
    s(
        "spec",
        T,
        "NULL",
        b"E\x00\x00\x00\xffj\x04Host '198.18.0.2' is not allowed to connect to this MySQL server",
        ["mysql", "MySQL", "", "unauthorized"],
    ),
];

#[test]
fn real_and_specified_responses_are_identified() {
    let db = db();
    let mut wrong = Vec::new();
    for (i, sample) in SAMPLES.iter().enumerate() {
        let want = (sample.service, sample.product, sample.version);
        match identify(&db, sample.proto, sample.probe, sample.response) {
            None => wrong.push(format!("#{i} {}: no match", sample.probe)),
            Some(found) => {
                let got = (
                    found.service.as_str(),
                    found.product.as_str(),
                    found.version.as_str(),
                );
                if got != want || (!sample.info.is_empty() && found.info != sample.info) {
                    wrong.push(format!(
                        "#{i} {} ({}): got {found:?}, want {want:?} info {:?}",
                        sample.probe, sample.source, sample.info
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let real = SAMPLES.iter().filter(|s| s.source == "real").count();
    assert!(
        SAMPLES.len() >= 40 && real >= 30,
        "{} samples, {real} real",
        SAMPLES.len()
    );
    let services: std::collections::BTreeSet<_> = SAMPLES.iter().map(|s| s.service).collect();
    assert!(services.len() >= 60, "{} services sampled", services.len());
}

/// The same table through the crate's own matcher (PCRE2 over bytes, the
/// literal index, NULL after the fallbacks for TCP): every line compiles
/// there too, and each response gets the same service, product and version.
#[test]
fn the_matcher_reads_the_database_alike() {
    let db = db();
    let matcher = vigie_service::matcher::Matcher::new(&db).expect("matcher");
    assert!(
        matcher.skipped().is_empty(),
        "lines the matcher cannot compile: {:?}",
        matcher.skipped()
    );
    let mut wrong = Vec::new();
    for (i, sample) in SAMPLES.iter().enumerate() {
        let index = db
            .probes
            .iter()
            .position(|p| p.proto == sample.proto && p.name == sample.probe)
            .expect("probe");
        let found = matcher.match_response(index, sample.response);
        let got = found.as_ref().filter(|f| !f.soft).map(|f| {
            (
                f.service.as_str(),
                f.product.as_deref().unwrap_or(""),
                f.version.as_deref().unwrap_or(""),
            )
        });
        if got != Some((sample.service, sample.product, sample.version)) {
            wrong.push(format!("#{i} {}: {found:?}", sample.probe));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
