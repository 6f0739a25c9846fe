//! Arbitrary bytes as responses to a matcher built from a small probe file
//! written here (every kind of line the index reads: anchored literals,
//! case-insensitive ones, inner literals, unanchored lines, alternation,
//! classes, octal and hex escapes, lookaround, back-references, runaway
//! patterns). No panic, and the index finds exactly what running every
//! pattern finds.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigie_service::{Matcher, ProbeDb};

const PROBES: &str = r#"
Probe TCP NULL q||
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+)[ -]{1,2}Debian[ -_]([^\r\n]+)\r?\n| p/OpenSSH/ v/$2 Debian $3/ i/protocol $1/ cpe:/a:x:openssh:$2/
match ftp m|^220 \(vsFTPd ([-.\w]+)\)\r\n$| p/vsftpd/ v/$1/
softmatch ftp m|^220[- ].*ftp|i
match smtp m|^220([\s-]\S+) ESMTP (?!Postfix)(\w+)| p/$2/ h/$1/
match mysql m|^.\0\0\0\x0a([\d.]+)\0|s p/MySQL/ v/$1/
match echo m|^(\w+)\1$| p/$P(1)/
match octal m|^\01\02\0003[\0-\x1f]+\xff| p/$I(1,">")/
match tel m|\xff\xfd\x18\xff\xfd| p/telnetd/
match alt m=^abc|^def|xyz= p/alt/
match grp m#^(?:GET|POST) /(\S*) HTTP/1\.[01]\r\n.*Host: ([^\r\n]+)#s p/$1/ h/$2/
match slow m|^(a+)+b| p/slow/
match look m|^HTTP/1\.1 (?=\d\d\d)(\d+)(?<!404)| v/$1/
match flags m|^ab(?i)CD| p/flags/
match sub m|^SUB (\S+)| v/$SUBST(1,"_",".")/ cpe:/a:sub:$1/

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
fallback Other
match http m|^HTTP/1\.[01] \d\d\d.*\r\nServer: nginx/([\d.]+)\r\n|s p/nginx/ v/$1/ cpe:/a:igor_sysoev:nginx:$1/
match http m|^HTTP/1\.[01] \d\d\d (?:[^\r\n]*\r\n(?!\r\n))*?Server: Apache[/ ](\d[-.\w]+) ([^\r\n]+)|s p/Apache httpd/ v/$1/ i/$2/
match http m|^http/1\.[01] \d\d\d .*<title>([^<]*)</title>|si i/$1/
softmatch http m|^HTTP/1\.[01] \d\d\d|
match redis m|^-ERR wrong number of arguments for 'get' command\r\n$| p/Redis/

Probe TCP Other q|OTHER\r\n|
match other m|[a-z]{3}\d{2}OTHER| p/other/

Probe UDP Dgram q|x|
fallback GetRequest
match dns m|^..\x81\x80| p/dns/
"#;

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let db = ProbeDb::parse(PROBES.as_bytes()).expect("the embedded file parses");
        let m = Matcher::new(&db).expect("matcher");
        assert!(m.skipped().is_empty(), "{:?}", m.skipped());
        m
    })
}

fuzz_target!(|data: &[u8]| {
    let m = matcher();
    for p in 0..m.db().probes.len() {
        if let Some(f) = m.match_response(p, data) {
            for v in [&f.product, &f.version, &f.hostname].into_iter().flatten() {
                assert!(v.len() <= 80 && v.bytes().all(|b| (0x20..0x7f).contains(&b)));
            }
            assert!(f.info.as_ref().is_none_or(|v| v.len() <= 256));
            assert!(f
                .cpe
                .iter()
                .all(|c| c.len() <= 80 && c.starts_with("cpe:/")));
        }
    }
    assert_eq!(m.matching_lines(data), m.matching_lines_unindexed(data));
});
