//! The evasion and spoofing flags' values, as nmap spells them: `-S`,
//! `-e`, `-g`, `--ttl`, `--data`, `--data-string`, `--data-length`,
//! `--badsum`, `-f`/`-ff`/`--mtu`, `-D`, `--spoof-mac`.

use std::net::IpAddr;

/// Most decoys `-D` takes (nmap's limit).
pub const MAX_DECOYS: usize = 128;
/// Most payload bytes (nmap's limit).
pub const MAX_DATA: usize = 1400;

/// What `--data`, `--data-string` or `--data-length` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Bytes(Vec<u8>),
    Random(usize),
}

/// One entry of `-D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoyArg {
    Me,
    Addr(IpAddr),
    /// `RND` (1) or `RND:n`.
    Random(usize),
}

/// `--spoof-mac`: the first bytes given (0 to 6 of them; the rest are
/// random).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacArg {
    pub prefix: Vec<u8>,
}

/// The evasion options as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvasionArgs {
    pub source: Option<IpAddr>,
    pub iface: Option<String>,
    pub source_port: Option<u16>,
    pub ttl: Option<u8>,
    pub data: Option<Data>,
    /// Which data flag set `data` (only one may).
    pub data_flag: Option<&'static str>,
    pub badsum: bool,
    /// `-f` given this many times (`-ff` counts 2).
    pub frag: u8,
    pub mtu: Option<u16>,
    pub decoys: Vec<DecoyArg>,
    pub spoof_mac: Option<MacArg>,
}

impl EvasionArgs {
    /// Any option that only raw probes can carry.
    pub fn raw_only(&self) -> Option<&'static str> {
        if self.frag > 0 {
            Some("-f")
        } else if self.mtu.is_some() {
            Some("--mtu")
        } else if !self.decoys.is_empty() {
            Some("-D")
        } else if self.ttl.is_some() {
            Some("--ttl")
        } else if self.badsum {
            Some("--badsum")
        } else if self.data.is_some() {
            self.data_flag
        } else if self.spoof_mac.is_some() {
            Some("--spoof-mac")
        } else if self.source.is_some() {
            Some("-S")
        } else if self.source_port.is_some() {
            Some("-g")
        } else if self.iface.is_some() {
            Some("-e")
        } else {
            None
        }
    }

    /// Bytes of IP payload per fragment: `--mtu`, else 8 per `-f`.
    pub fn fragment_size(&self) -> Option<usize> {
        match (self.mtu, self.frag) {
            (Some(m), _) => Some(usize::from(m)),
            (None, 0) => None,
            (None, n) => Some(8 * usize::from(n)),
        }
    }

    pub fn set_data(&mut self, flag: &'static str, d: Data) -> Result<(), String> {
        if let Some(prev) = self.data_flag.filter(|p| *p != flag) {
            return Err(format!(
                "only one of --data, --data-string and --data-length may be given (and {prev} was)"
            ));
        }
        self.data = Some(d);
        self.data_flag = Some(flag);
        Ok(())
    }
}

pub fn parse_address(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("expected an IPv4 or IPv6 address, not {s:?}"))
}

pub fn parse_iface(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 15 || s.contains(['/', ' ', '\0']) || s == "." || s == ".." {
        return Err(format!("{s:?} is not an interface name"));
    }
    Ok(s.to_string())
}

pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err("expected a port number from 1 to 65535".into()),
    }
}

pub fn parse_ttl(s: &str) -> Result<u8, String> {
    s.parse::<u8>()
        .map_err(|_| "expected a TTL from 0 to 255".into())
}

pub fn parse_data_length(s: &str) -> Result<Data, String> {
    match s.parse::<usize>() {
        Ok(n) if n <= MAX_DATA => Ok(Data::Random(n)),
        _ => Err(format!("expected a length from 0 to {MAX_DATA} bytes")),
    }
}

/// Hex digits, with `0x` in front or `\x` before each byte, as nmap takes
/// them: `deadbeef`, `0xdeadbeef`, `\xde\xad\xbe\xef`.
pub fn parse_hex(s: &str) -> Result<Data, String> {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let digits: String = if t.contains("\\x") {
        t.split("\\x").collect()
    } else {
        t.to_string()
    };
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || !digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(
            "expected an even number of hex digits (e.g. deadbeef, 0xdeadbeef or \\xde\\xad)"
                .into(),
        );
    }
    let bytes: Vec<u8> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap_or(0))
        .collect();
    if bytes.len() > MAX_DATA {
        return Err(format!("at most {MAX_DATA} bytes"));
    }
    Ok(Data::Bytes(bytes))
}

pub fn parse_string(s: &str) -> Result<Data, String> {
    if s.len() > MAX_DATA {
        return Err(format!("at most {MAX_DATA} bytes"));
    }
    Ok(Data::Bytes(s.as_bytes().to_vec()))
}

pub fn parse_mtu(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(m) if m > 0 && m.is_multiple_of(8) && usize::from(m) <= 1400 + 100 => Ok(m),
        _ => Err(
            "expected a multiple of 8, from 8 to 1496 (bytes of each fragment's payload)".into(),
        ),
    }
}

/// `decoy1,decoy2,ME,RND,RND:5`: addresses only (no names are resolved).
pub fn parse_decoys(s: &str) -> Result<Vec<DecoyArg>, String> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for part in s.split(',') {
        let d = if part.eq_ignore_ascii_case("ME") {
            if out.contains(&DecoyArg::Me) {
                return Err("ME is named twice".into());
            }
            DecoyArg::Me
        } else if part.eq_ignore_ascii_case("RND") {
            DecoyArg::Random(1)
        } else if let Some(n) = part
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("RND:"))
            .map(|_| &part[4..])
        {
            match n.parse::<usize>() {
                Ok(n @ 1..=MAX_DECOYS) => DecoyArg::Random(n),
                _ => return Err(format!("RND:n: n from 1 to {MAX_DECOYS}, not {n:?}")),
            }
        } else {
            match part.parse::<IpAddr>() {
                Ok(a) if a.is_unspecified() || a.is_multicast() => {
                    return Err(format!("decoy {a}: not a unicast address"))
                }
                Ok(a) => DecoyArg::Addr(a),
                Err(_) => {
                    return Err(format!(
                        "{part:?} is not a decoy: give IP addresses, ME, RND or RND:n, separated by commas"
                    ))
                }
            }
        };
        total += match d {
            DecoyArg::Me => 0,
            DecoyArg::Addr(_) => 1,
            DecoyArg::Random(n) => n,
        };
        out.push(d);
    }
    if total == 0 {
        return Err("no decoy given (only ME)".into());
    }
    if total > MAX_DECOYS {
        return Err(format!("at most {MAX_DECOYS} decoys, not {total}"));
    }
    Ok(out)
}

/// Vendors `--spoof-mac` knows by name, with an OUI of theirs.
pub const VENDORS: &[(&str, [u8; 3])] = &[
    ("Apple", [0x00, 0x03, 0x93]),
    ("Cisco", [0x00, 0x00, 0x0c]),
    ("Dell", [0x00, 0x14, 0x22]),
    ("Intel", [0x00, 0x1b, 0x21]),
    ("Juniper", [0x00, 0x05, 0x85]),
    ("Microsoft", [0x00, 0x15, 0x5d]),
    ("Raspberry", [0xb8, 0x27, 0xeb]),
    ("Realtek", [0x00, 0xe0, 0x4c]),
    ("VMware", [0x00, 0x50, 0x56]),
    ("Xensource", [0x00, 0x16, 0x3e]),
];

/// `0` (all random), hex digits with or without `:`/`-` (up to 6 bytes,
/// the rest random), or a vendor name (its OUI, the rest random).
pub fn parse_mac(s: &str) -> Result<MacArg, String> {
    if s == "0" {
        return Ok(MacArg { prefix: Vec::new() });
    }
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    if !hex.is_empty()
        && hex.len().is_multiple_of(2)
        && hex.len() <= 12
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let prefix: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
            .collect();
        if prefix[0] & 1 == 1 {
            return Err(format!("{s}: a multicast MAC address cannot be a source"));
        }
        return Ok(MacArg { prefix });
    }
    let lower = s.to_ascii_lowercase();
    if let Some((_, oui)) = VENDORS
        .iter()
        .find(|(v, _)| v.to_ascii_lowercase().starts_with(&lower) && !lower.is_empty())
    {
        return Ok(MacArg {
            prefix: oui.to_vec(),
        });
    }
    let names: Vec<&str> = VENDORS.iter().map(|(v, _)| *v).collect();
    Err(format!(
        "{s:?}: expected 0 (random), a MAC address (or its first bytes) in hex, or a vendor: {}",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoy_lists() {
        let d = parse_decoys("198.18.0.50,ME,RND:3,fd00::9,rnd").unwrap();
        assert_eq!(
            d,
            [
                DecoyArg::Addr("198.18.0.50".parse().unwrap()),
                DecoyArg::Me,
                DecoyArg::Random(3),
                DecoyArg::Addr("fd00::9".parse().unwrap()),
                DecoyArg::Random(1),
            ]
        );
        for bad in [
            "",
            "ME",
            "ME,ME,198.18.0.1",
            "host.example",
            "RND:0",
            "RND:x",
            "224.0.0.1",
            "0.0.0.0",
            "RND:200",
            "198.18.0.1,",
        ] {
            assert!(parse_decoys(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn data_spellings() {
        let want = Data::Bytes(vec![0xde, 0xad, 0xbe, 0xef]);
        for s in ["deadbeef", "0xdeadbeef", "\\xde\\xad\\xbe\\xef", "DEADBEEF"] {
            assert_eq!(parse_hex(s).unwrap(), want, "{s}");
        }
        for bad in ["", "abc", "0x", "zz", "de ad"] {
            assert!(parse_hex(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_data_length("1400").unwrap(), Data::Random(1400));
        assert!(parse_data_length("1401").is_err());
        assert!(parse_data_length("-1").is_err());
        let mut e = EvasionArgs::default();
        e.set_data("--data", want.clone()).unwrap();
        assert!(e.set_data("--data-length", Data::Random(3)).is_err());
    }

    #[test]
    fn mtu_ports_ttl() {
        assert_eq!(parse_mtu("16"), Ok(16));
        for bad in ["0", "12", "-8", "65536", "x"] {
            assert!(parse_mtu(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_port("53"), Ok(53));
        assert!(parse_port("0").is_err() && parse_port("65536").is_err());
        assert_eq!(parse_ttl("0"), Ok(0));
        assert!(parse_ttl("256").is_err());
        let e = EvasionArgs {
            frag: 2,
            ..EvasionArgs::default()
        };
        assert_eq!(e.fragment_size(), Some(16));
        let e = EvasionArgs {
            frag: 1,
            mtu: Some(24),
            ..EvasionArgs::default()
        };
        assert_eq!(e.fragment_size(), Some(24));
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac("0").unwrap().prefix, Vec::<u8>::new());
        assert_eq!(
            parse_mac("02:00:5e:10:00:01").unwrap().prefix,
            [2, 0, 0x5e, 0x10, 0, 1]
        );
        assert_eq!(parse_mac("02005e").unwrap().prefix, [2, 0, 0x5e]);
        assert_eq!(parse_mac("apple").unwrap().prefix, [0, 3, 0x93]);
        assert_eq!(parse_mac("Cis").unwrap().prefix, [0, 0, 0x0c]);
        for bad in ["01:00:5e:00:00:01", "nobody", "0203040506070809", "02:0"] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }
}
