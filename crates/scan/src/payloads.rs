//! UDP probe payloads for services that ignore an empty datagram, written
//! from the protocol specifications. Each payload carries a 16-bit `id`
//! (the scan's keyed hash, [`crate::cookie::Keys::dns_txid`]) wherever the
//! protocol has a request id the server echoes. Any datagram back from the
//! probed port is an answer (the port is open, as nmap reads it): the ids
//! make the probe look like a real client's, they never downgrade a reply.
//!
//! Ports without an entry get an empty datagram.

/// Writes the probe payload for `port` into `out` (cleared first).
pub fn payload(port: u16, id: u16, out: &mut Vec<u8>) {
    out.clear();
    match port {
        53 => dns_query(out, id, &["version", "bind"], 16, 3),
        5353 => dns_query(out, id, &["_services", "_dns-sd", "_udp", "local"], 12, 1),
        123 => ntp_request(out, id),
        161 => snmp_get(out, id),
        137 => netbios_nbstat(out, id),
        1900 => out.extend_from_slice(SSDP),
        111 => rpc_null(out, id, 100_000, 2),
        2049 => rpc_null(out, id, 100_003, 3),
        500 => ike_main_mode(out, id),
        4500 => {
            // NAT traversal: a zero "non-ESP marker" before the IKE header.
            out.extend_from_slice(&[0; 4]);
            ike_main_mode(out, id);
        }
        69 => {
            // TFTP read request (RFC 1350): opcode 1, file name, mode.
            out.extend_from_slice(&[0, 1]);
            out.extend_from_slice(b"vigie.txt\0octet\0");
        }
        11211 => {
            // memcached UDP frame header (request id, sequence 0, 1
            // datagram, reserved) + a text command.
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
            out.extend_from_slice(b"stats\r\n");
        }
        5060 => sip_options(out, id),
        1434 => out.push(0x02), // SQL Server Resolution Protocol: broadcast enumeration
        // Echo, daytime, qotd, chargen, time … answer an empty datagram.
        _ => {}
    }
}

/// RFC 1035 query: header (id, RD, one question) + name + type + class.
fn dns_query(out: &mut Vec<u8>, id: u16, labels: &[&str], qtype: u16, qclass: u16) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
}

/// RFC 5905 client request: LI 0, version 4, mode 3; the transmit
/// timestamp (echoed as the reply's origin timestamp) carries the id.
fn ntp_request(out: &mut Vec<u8>, id: u16) {
    out.resize(48, 0);
    out[0] = 0x23;
    out[40..42].copy_from_slice(&id.to_be_bytes());
    out[42..44].copy_from_slice(b"vg");
}

/// SNMPv1 GetRequest, community "public", for sysDescr.0 (1.3.6.1.2.1.1.1.0),
/// BER-encoded; request-id = id.
fn snmp_get(out: &mut Vec<u8>, id: u16) {
    let oid = [0x2b, 6, 1, 2, 1, 1, 1, 0];
    let mut varbind = vec![0x06, oid.len() as u8];
    varbind.extend_from_slice(&oid);
    varbind.extend_from_slice(&[0x05, 0x00]);
    let varbind = tlv(0x30, &varbind);
    let varbinds = tlv(0x30, &varbind);
    let mut pdu = Vec::new();
    // request-id as a positive INTEGER (leading 0 keeps the sign bit clear).
    pdu.extend_from_slice(&[0x02, 0x03, 0x00]);
    pdu.extend_from_slice(&id.to_be_bytes());
    pdu.extend_from_slice(&[0x02, 0x01, 0x00, 0x02, 0x01, 0x00]); // error-status, error-index
    pdu.extend_from_slice(&varbinds);
    let pdu = tlv(0xa0, &pdu);
    let mut msg = vec![0x02, 0x01, 0x00]; // version 1
    msg.extend_from_slice(&tlv(0x04, b"public"));
    msg.extend_from_slice(&pdu);
    out.extend_from_slice(&tlv(0x30, &msg));
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    if value.len() < 0x80 {
        v.push(value.len() as u8);
    } else {
        v.extend_from_slice(&[0x81, value.len() as u8]);
    }
    v.extend_from_slice(value);
    v
}

/// RFC 1002 node status request for the wildcard name "*".
fn netbios_nbstat(out: &mut Vec<u8>, id: u16) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.push(32);
    let mut name = [0u8; 16];
    name[0] = b'*';
    for b in name {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    out.extend_from_slice(&[0x00, 0x21, 0x00, 0x01]); // NBSTAT, IN
}

const SSDP: &[u8] = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";

/// RFC 5531 call of procedure 0 (NULL) with AUTH_NONE; xid carries the id.
fn rpc_null(out: &mut Vec<u8>, id: u16, prog: u32, vers: u32) {
    let words = [
        0x7667_0000 | u32::from(id), // xid
        0,                           // CALL
        2,                           // RPC version
        prog,
        vers,
        0, // NULL procedure
        0,
        0, // credentials: AUTH_NONE, empty
        0,
        0, // verifier: AUTH_NONE, empty
    ];
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
}

/// RFC 2408/2409 IKEv1 main mode, first message: header + an SA with one
/// proposal and one transform (3DES, SHA1, pre-shared key, group 2).
fn ike_main_mode(out: &mut Vec<u8>, id: u16) {
    let attrs: [(u16, u16); 5] = [
        (0x8001, 5), // encryption: 3DES-CBC
        (0x8002, 2), // hash: SHA
        (0x8003, 1), // authentication: pre-shared key
        (0x8004, 2), // group: MODP 1024
        (0x800b, 1), // life type: seconds
    ];
    let mut transform = vec![0, 0, 0, 0, 1, 1, 0, 0]; // last, len, #1, KEY_IKE
    for (t, v) in attrs {
        transform.extend_from_slice(&t.to_be_bytes());
        transform.extend_from_slice(&v.to_be_bytes());
    }
    transform.extend_from_slice(&[0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x70, 0x80]); // 28800 s
    let tlen = transform.len() as u16;
    transform[2..4].copy_from_slice(&tlen.to_be_bytes());
    let mut proposal = vec![0, 0, 0, 0, 1, 1, 0, 1]; // last, len, #1, ISAKMP, spi 0, 1 transform
    proposal.extend_from_slice(&transform);
    let plen = proposal.len() as u16;
    proposal[2..4].copy_from_slice(&plen.to_be_bytes());
    let mut sa = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]; // DOI IPsec, SIT_IDENTITY_ONLY
    sa.extend_from_slice(&proposal);
    let slen = sa.len() as u16;
    sa[2..4].copy_from_slice(&slen.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(b"vigie\0");
    out.extend_from_slice(&id.to_be_bytes()); // initiator cookie
    out.extend_from_slice(&[0; 8]); // responder cookie
    out.extend_from_slice(&[1, 0x10, 2, 0]); // next: SA, v1.0, main mode, flags
    out.extend_from_slice(&[0; 4]); // message id
    let total = (28 + sa.len()) as u32;
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&sa);
    debug_assert_eq!(out.len() - start, total as usize);
}

/// RFC 2131 DHCPDISCOVER (244 bytes: more than the engine's 256-byte
/// packet slots hold with an IPv6 header, so not sent yet).
#[cfg(test)]
/// RFC 2131 DHCPDISCOVER, broadcast flag set; xid carries the id.
fn dhcp_discover(out: &mut Vec<u8>, id: u16) {
    out.resize(236, 0);
    out[0] = 1; // BOOTREQUEST
    out[1] = 1; // Ethernet
    out[2] = 6;
    out[4..6].copy_from_slice(b"vg");
    out[6..8].copy_from_slice(&id.to_be_bytes());
    out[10] = 0x80; // broadcast
    out[28..34].copy_from_slice(&[0x02, 0x76, 0x69, 0x67, 0x69, 0x65]); // chaddr
    out.extend_from_slice(&[99, 130, 83, 99]); // magic cookie
    out.extend_from_slice(&[53, 1, 1, 255]); // DHCPDISCOVER, end
}

/// RFC 3261 OPTIONS request.
fn sip_options(out: &mut Vec<u8>, id: u16) {
    let text = format!(
        "OPTIONS sip:v SIP/2.0\r\nVia: SIP/2.0/UDP v;branch=z9hG4bK{id:04x}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:v@v>;tag={id:04x}\r\nTo: <sip:v>\r\n\
         Call-ID: v{id:04x}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(port: u16, id: u16) -> Vec<u8> {
        let mut v = vec![0xa5; 3];
        payload(port, id, &mut v);
        v
    }

    #[test]
    fn dns_query_bytes() {
        let q = p(53, 0xbeef);
        let mut want = vec![0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
        assert_eq!(q, want);
    }

    #[test]
    fn ids_land_where_servers_echo_them() {
        assert_eq!(&p(123, 0x1234)[40..42], &[0x12, 0x34]);
        assert_eq!(p(123, 0).len(), 48);
        assert_eq!(&p(111, 0x1234)[..4], &[0x76, 0x67, 0x12, 0x34]);
        assert_eq!(&p(11211, 0x1234)[..8], &[0x12, 0x34, 0, 0, 0, 1, 0, 0]);
        let mut d = Vec::new();
        dhcp_discover(&mut d, 0x1234);
        assert_eq!(&d[4..8], b"vg\x12\x34");
        assert_eq!(d.len(), 240 + 4);
        let snmp = p(161, 0x1234);
        assert_eq!(snmp[0], 0x30);
        assert_eq!(usize::from(snmp[1]), snmp.len() - 2);
        assert!(snmp.windows(5).any(|w| w == [0x02, 0x03, 0x00, 0x12, 0x34]));
        let ike = p(500, 7);
        assert_eq!(
            u32::from_be_bytes(ike[24..28].try_into().unwrap()) as usize,
            ike.len()
        );
        assert_eq!(&p(4500, 7)[4..], &ike[..]);
        let nb = p(137, 9);
        assert_eq!(nb.len(), 12 + 34 + 4);
        assert_eq!(&nb[13..15], b"CK");
        assert!(p(9999, 1).is_empty());
        assert!(p(1900, 1).starts_with(b"M-SEARCH * HTTP/1.1\r\n"));
        assert!(p(5060, 0xabcd).windows(4).any(|w| w == b"abcd"));
    }

    proptest! {
        #[test]
        fn payloads_fit_a_datagram(port: u16, id: u16) {
            let mut v = Vec::new();
            payload(port, id, &mut v);
            // IPv6 + UDP headers (48) + payload fit the engine's 256-byte slots.
            prop_assert!(v.len() <= 208);
        }
    }
}
