//! Service names per port and a ranking of ports by how often they are open.
//!
//! [`ServiceDb::builtin`] is the project's own table, written from IANA's
//! service-name registry (using the short names scanners commonly print
//! where IANA's spelling differs only cosmetically) and a hand-made ranking.
//! [`ServiceDb::from_nmap_services`] reads an `nmap-services` text from the
//! file the user names (`--servicedb`); nothing of nmap's file ships here
//! and it is never looked up on its own.

use std::collections::HashMap;

use crate::model::Proto;
use crate::ports::PortList;

/// Service names and port rankings for TCP and UDP.
#[derive(Debug, Clone, Default)]
pub struct ServiceDb {
    tcp: Table,
    udp: Table,
}

#[derive(Debug, Clone, Default)]
struct Table {
    names: HashMap<u16, Box<str>>,
    /// Lower-cased name → ports, best ranked first, then ascending.
    by_name: HashMap<Box<str>, Vec<u16>>,
    /// Ports, most common first; no duplicates.
    rank: Vec<u16>,
}

impl Table {
    /// Build from (port, name) pairs (first name for a port wins) and a ranking.
    fn build<'a>(entries: impl IntoIterator<Item = (u16, &'a str)>, rank: Vec<u16>) -> Table {
        let mut names: HashMap<u16, Box<str>> = HashMap::new();
        for (port, name) in entries {
            names.entry(port).or_insert_with(|| name.into());
        }
        let pos: HashMap<u16, usize> = rank.iter().enumerate().map(|(i, &p)| (p, i)).collect();
        let mut by_name: HashMap<Box<str>, Vec<u16>> = HashMap::new();
        for (&port, name) in &names {
            by_name
                .entry(name.to_ascii_lowercase().into_boxed_str())
                .or_default()
                .push(port);
        }
        for ports in by_name.values_mut() {
            ports.sort_unstable_by_key(|p| (pos.get(p).copied().unwrap_or(usize::MAX), *p));
        }
        Table {
            names,
            by_name,
            rank,
        }
    }
}

/// Why an `nmap-services` text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServicesError {
    #[error("services file line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("services file has no TCP or UDP entries")]
    Empty,
}

impl ServiceDb {
    /// The project's own table.
    pub fn builtin() -> ServiceDb {
        ServiceDb {
            tcp: Table::build(
                TCP_ONLY.iter().chain(BOTH).map(|&(p, n)| (p, n)),
                builtin_rank(TCP_RANK, TCP_ONLY),
            ),
            udp: Table::build(
                UDP_ONLY.iter().chain(BOTH).map(|&(p, n)| (p, n)),
                builtin_rank(UDP_RANK, UDP_ONLY),
            ),
        }
    }

    /// Read nmap's services file format: `name<TAB>port/proto<TAB>frequency
    /// [<TAB># comment]`, `#` comment lines, blank lines. Protocols other than
    /// tcp and udp (sctp) are skipped. Ports are ranked by frequency,
    /// highest first, ties by port number; a missing frequency counts as 0.
    pub fn from_nmap_services(text: &str) -> Result<ServiceDb, ServicesError> {
        let mut tcp: Vec<(u16, String, f64)> = Vec::new();
        let mut udp: Vec<(u16, String, f64)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: String| ServicesError::Line {
                line: i + 1,
                reason,
            };
            let mut fields = line.split_whitespace();
            let (Some(name), Some(pp)) = (fields.next(), fields.next()) else {
                return Err(bad(format!(
                    "expected \"name port/proto [frequency]\", found {line:?}"
                )));
            };
            let Some((port, proto)) = pp.split_once('/') else {
                return Err(bad(format!("expected port/proto, found {pp:?}")));
            };
            let port: u16 = port
                .parse()
                .map_err(|_| bad(format!("invalid port {port:?}")))?;
            let freq: f64 = match fields.next() {
                None => 0.0,
                Some(f) => match f.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => v,
                    _ => return Err(bad(format!("invalid frequency {f:?}"))),
                },
            };
            let list = match proto.to_ascii_lowercase().as_str() {
                "tcp" => &mut tcp,
                "udp" => &mut udp,
                _ => continue,
            };
            list.push((port, name.to_owned(), freq));
        }
        if tcp.is_empty() && udp.is_empty() {
            return Err(ServicesError::Empty);
        }
        let table = |mut v: Vec<(u16, String, f64)>| {
            let entries: Vec<(u16, String)> = v.iter().map(|(p, n, _)| (*p, n.clone())).collect();
            // Highest frequency first; the stable sort keeps file order for
            // equal keys, and dedup keeps each port's best position.
            v.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
            let mut seen = vec![false; 65536];
            let rank: Vec<u16> = v
                .iter()
                .filter_map(|&(p, _, _)| {
                    (!std::mem::replace(&mut seen[usize::from(p)], true)).then_some(p)
                })
                .collect();
            Table::build(entries.iter().map(|(p, n)| (*p, n.as_str())), rank)
        };
        Ok(ServiceDb {
            tcp: table(tcp),
            udp: table(udp),
        })
    }

    fn table(&self, proto: Proto) -> &Table {
        match proto {
            Proto::Tcp => &self.tcp,
            Proto::Udp => &self.udp,
        }
    }

    /// The service name of `port`, if known.
    pub fn name(&self, port: u16, proto: Proto) -> Option<&str> {
        self.table(proto).names.get(&port).map(|n| &**n)
    }

    /// The port of service `name` (ASCII case-insensitive); when several
    /// ports share the name, the best-ranked one.
    pub fn port(&self, name: &str, proto: Proto) -> Option<u16> {
        self.ports_named(name, proto).first().copied()
    }

    /// Every port carrying service `name` (ASCII case-insensitive), best
    /// ranked first. nmap's `-p http` means all of them.
    pub fn ports_named(&self, name: &str, proto: Proto) -> &[u16] {
        self.table(proto)
            .by_name
            .get(name.to_ascii_lowercase().as_str())
            .map_or(&[], Vec::as_slice)
    }

    /// Ports in ranking order, most common first.
    pub fn ranking(&self, proto: Proto) -> &[u16] {
        &self.table(proto).rank
    }

    /// The `n` most common ports. When `n` exceeds the ranking, the rest are
    /// filled with unranked ports ascending from 1 (at most 65535 ports).
    pub fn top(&self, n: usize, proto: Proto) -> PortList {
        let rank = &self.table(proto).rank;
        let mut ports: Vec<u16> = rank.iter().copied().take(n).collect();
        if n > ports.len() {
            let mut taken = vec![false; 65536];
            for &p in &ports {
                taken[usize::from(p)] = true;
            }
            let missing = n - ports.len();
            ports.extend(
                (1..=u16::MAX)
                    .filter(|&p| !taken[usize::from(p)])
                    .take(missing),
            );
        }
        PortList::from_ports(&ports)
    }
}

/// The hand ranking, then the rest of 1..=1023, then the registered ports
/// of the table (`BOTH` plus this protocol's own entries), ascending.
fn builtin_rank(hand: &[u16], own: &[(u16, &str)]) -> Vec<u16> {
    let mut seen = vec![false; 65536];
    let mut out = Vec::with_capacity(hand.len() + 1023 + BOTH.len());
    let mut push = |p: u16| {
        if !std::mem::replace(&mut seen[usize::from(p)], true) {
            out.push(p);
        }
    };
    hand.iter().copied().for_each(&mut push);
    (1..=1023).for_each(&mut push);
    let mut registered: Vec<u16> = BOTH
        .iter()
        .chain(own)
        .map(|&(p, _)| p)
        .filter(|&p| p > 1023)
        .collect();
    registered.sort_unstable();
    registered.into_iter().for_each(&mut push);
    out
}

/// Names that differ between the protocols or exist only on TCP.
#[rustfmt::skip]
const TCP_ONLY: &[(u16, &str)] = &[
    (512, "exec"), (513, "login"), (514, "shell"), (520, "efs"), (623, "oob-ws-http"),
    (664, "oob-ws-https"), (773, "submit"), (774, "rpasswd"), (775, "entomb"), (998, "busboy"),
    (999, "garcon"),
];

/// Names that differ between the protocols or exist only on UDP.
#[rustfmt::skip]
const UDP_ONLY: &[(u16, &str)] = &[
    (512, "biff"), (513, "who"), (514, "syslog"), (520, "router"), (623, "asf-rmcp"),
    (664, "asf-secure-rmcp"), (773, "notify"), (774, "acmaint-dbd"), (775, "acmaint-transd"),
    (998, "puparp"), (999, "applix"), (33434, "traceroute"),
];

/// Names IANA gives the same on TCP and UDP (ports ascending).
#[rustfmt::skip]
const BOTH: &[(u16, &str)] = &[
    (1, "tcpmux"), (2, "compressnet"), (3, "compressnet"), (5, "rje"), (7, "echo"), (9, "discard"),
    (11, "systat"), (13, "daytime"), (17, "qotd"), (18, "msp"), (19, "chargen"), (20, "ftp-data"),
    (21, "ftp"), (22, "ssh"), (23, "telnet"), (24, "priv-mail"), (25, "smtp"), (27, "nsw-fe"),
    (29, "msg-icp"), (31, "msg-auth"), (33, "dsp"), (37, "time"), (38, "rap"), (39, "rlp"),
    (41, "graphics"), (42, "nameserver"), (43, "whois"), (44, "mpm-flags"), (45, "mpm"),
    (46, "mpm-snd"), (48, "auditd"), (49, "tacacs"), (50, "re-mail-ck"), (52, "xns-time"),
    (53, "domain"), (54, "xns-ch"), (55, "isi-gl"), (56, "xns-auth"), (58, "xns-mail"),
    (62, "acas"), (63, "whoispp"), (64, "covia"), (65, "tacacs-ds"), (66, "sqlnet"), (67, "dhcps"),
    (68, "dhcpc"), (69, "tftp"), (70, "gopher"), (71, "netrjs-1"), (72, "netrjs-2"),
    (73, "netrjs-3"), (74, "netrjs-4"), (76, "deos"), (78, "vettcp"), (79, "finger"), (80, "http"),
    (81, "hosts2-ns"), (82, "xfer"), (83, "mit-ml-dev"), (84, "ctf"), (86, "mfcobol"),
    (88, "kerberos"), (89, "su-mit-tg"), (90, "dnsix"), (91, "mit-dov"), (92, "npp"), (93, "dcp"),
    (94, "objcall"), (95, "supdup"), (96, "dixie"), (97, "swift-rvf"), (98, "tacnews"),
    (99, "metagram"), (101, "hostname"), (102, "iso-tsap"), (103, "gppitnp"), (104, "acr-nema"),
    (105, "csnet-ns"), (106, "3com-tsmux"), (107, "rtelnet"), (108, "snagas"), (109, "pop2"),
    (110, "pop3"), (111, "rpcbind"), (112, "mcidas"), (113, "ident"), (115, "sftp"),
    (117, "uucp-path"), (118, "sqlserv"), (119, "nntp"), (120, "cfdptkt"), (123, "ntp"),
    (124, "ansatrader"), (125, "locus-map"), (126, "nxedit"), (127, "locus-con"),
    (128, "gss-xlicen"), (129, "pwdgen"), (130, "cisco-fna"), (131, "cisco-tna"),
    (132, "cisco-sys"), (133, "statsrv"), (134, "ingres-net"), (135, "msrpc"), (136, "profile"),
    (137, "netbios-ns"), (138, "netbios-dgm"), (139, "netbios-ssn"), (140, "emfis-data"),
    (141, "emfis-cntl"), (142, "bl-idm"), (143, "imap"), (144, "uma"), (145, "uaac"),
    (146, "iso-tp0"), (147, "iso-ip"), (148, "jargon"), (149, "aed-512"), (150, "sql-net"),
    (151, "hems"), (152, "bftp"), (153, "sgmp"), (154, "netsc-prod"), (155, "netsc-dev"),
    (156, "sqlsrv"), (157, "knet-cmp"), (158, "pcmail-srv"), (159, "nss-routing"),
    (160, "sgmp-traps"), (161, "snmp"), (162, "snmptrap"), (163, "cmip-man"), (164, "cmip-agent"),
    (165, "xns-courier"), (166, "s-net"), (167, "namp"), (168, "rsvd"), (169, "send"),
    (170, "print-srv"), (171, "multiplex"), (172, "cl-1"), (173, "xyplex-mux"), (174, "mailq"),
    (175, "vmnet"), (176, "genrad-mux"), (177, "xdmcp"), (178, "nextstep"), (179, "bgp"),
    (180, "ris"), (181, "unify"), (182, "audit"), (183, "ocbinder"), (184, "ocserver"),
    (185, "remote-kis"), (186, "kis"), (187, "aci"), (188, "mumps"), (189, "qft"), (190, "gacp"),
    (191, "prospero"), (192, "osu-nms"), (193, "srmp"), (194, "irc"), (195, "dn6-nlm-aud"),
    (196, "dn6-smm-red"), (197, "dls"), (198, "dls-mon"), (199, "smux"), (200, "src"),
    (201, "at-rtmp"), (202, "at-nbp"), (203, "at-3"), (204, "at-echo"), (205, "at-5"),
    (206, "at-zis"), (207, "at-7"), (208, "at-8"), (209, "qmtp"), (210, "z39-50"), (211, "914c-g"),
    (212, "anet"), (213, "ipx"), (214, "vmpwscs"), (215, "softpc"), (216, "cailic"),
    (217, "dbase"), (218, "mpp"), (219, "uarps"), (220, "imap3"), (221, "fln-spx"),
    (222, "rsh-spx"), (223, "cdc"), (224, "masqdialer"), (242, "direct"), (243, "sur-meas"),
    (244, "inbusiness"), (245, "link"), (246, "dsp3270"), (247, "subntbcst-tftp"), (248, "bhfhs"),
    (256, "rap-256"), (257, "set"), (259, "esro-gen"), (260, "openport"), (261, "nsiiops"),
    (262, "arcisdms"), (263, "hdap"), (264, "bgmp"), (265, "x-bone-ctl"), (266, "sst"),
    (267, "td-service"), (268, "td-replica"), (280, "http-mgmt"), (281, "personal-link"),
    (282, "cableport-ax"), (283, "rescap"), (284, "corerjd"), (286, "fxp"), (287, "k-block"),
    (308, "novastorbakcup"), (309, "entrusttime"), (310, "bhmds"), (311, "asip-webadmin"),
    (312, "vslmp"), (313, "magenta-logic"), (314, "opalis-robot"), (315, "dpsi"), (316, "decauth"),
    (317, "zannet"), (318, "pkix-timestamp"), (319, "ptp-event"), (320, "ptp-general"),
    (321, "pip"), (322, "rtsps"), (333, "texar"), (344, "pdap"), (345, "pawserv"), (346, "zserv"),
    (347, "fatserv"), (348, "csi-sgwp"), (349, "mftp"), (350, "matip-type-a"),
    (351, "matip-type-b"), (352, "dtag-ste-sb"), (353, "ndsauth"), (354, "bh611"),
    (355, "datex-asn"), (356, "cloanto-net-1"), (357, "bhevent"), (358, "shrinkwrap"),
    (359, "nsrmp"), (360, "scoi2odialog"), (361, "semantix"), (362, "srssend"),
    (363, "rsvp-tunnel"), (364, "aurora-cmgr"), (365, "dtk"), (366, "odmr"), (367, "mortgageware"),
    (368, "qbikgdp"), (369, "rpc2portmap"), (370, "codaauth2"), (371, "clearcase"),
    (372, "ulistproc"), (373, "legent-1"), (374, "legent-2"), (375, "hassle"), (376, "nip"),
    (377, "tnetos"), (378, "dsetos"), (379, "is99c"), (380, "is99s"), (381, "hp-collector"),
    (382, "hp-managed-node"), (383, "hp-alarm-mgr"), (384, "arns"), (385, "ibm-app"), (386, "asa"),
    (387, "aurp"), (388, "unidata-ldm"), (389, "ldap"), (390, "uis"), (391, "synotics-relay"),
    (392, "synotics-broker"), (393, "meta5"), (394, "embl-ndt"), (395, "netcp"),
    (396, "netware-ip"), (397, "mptn"), (398, "kryptolan"), (399, "iso-tsap-c2"), (400, "osb-sd"),
    (401, "ups"), (402, "genie"), (403, "decap"), (404, "nced"), (405, "ncld"), (406, "imsp"),
    (407, "timbuktu"), (408, "prm-sm"), (409, "prm-nm"), (410, "decladebug"), (411, "rmt"),
    (412, "synoptics-trap"), (413, "smsp"), (414, "infoseek"), (415, "bnet"),
    (416, "silverplatter"), (417, "onmux"), (418, "hyper-g"), (419, "ariel1"), (420, "smpte"),
    (421, "ariel2"), (422, "ariel3"), (423, "opc-job-start"), (424, "opc-job-track"),
    (425, "icad-el"), (426, "smartsdp"), (427, "svrloc"), (428, "ocs-cmu"), (429, "ocs-amu"),
    (430, "utmpsd"), (431, "utmpcd"), (432, "iasd"), (433, "nnsp"), (434, "mobileip-agent"),
    (435, "mobilip-mn"), (436, "dna-cml"), (437, "comscm"), (438, "dsfgw"), (439, "dasp"),
    (440, "sgcp"), (441, "decvms-sysmgt"), (442, "cvc-hostd"), (443, "https"), (444, "snpp"),
    (445, "microsoft-ds"), (446, "ddm-rdb"), (447, "ddm-dfm"), (448, "ddm-ssl"),
    (449, "as-servermap"), (450, "tserver"), (451, "sfs-smp-net"), (452, "sfs-config"),
    (453, "creativeserver"), (454, "contentserver"), (455, "creativepartnr"), (456, "macon"),
    (457, "scohelp"), (458, "appleqtc"), (459, "ampr-rcmd"), (460, "skronk"), (461, "datasurfsrv"),
    (462, "datasurfsrvsec"), (463, "alpes"), (464, "kpasswd"), (465, "smtps"),
    (466, "digital-vrc"), (467, "mylex-mapd"), (468, "photuris"), (469, "rcp"), (470, "scx-proxy"),
    (471, "mondex"), (472, "ljk-login"), (473, "hybrid-pop"), (474, "tn-tl-w1"),
    (475, "tcpnethaspsrv"), (476, "tn-tl-fd1"), (477, "ss7ns"), (478, "spsc"), (479, "iafserver"),
    (480, "iafdbase"), (481, "ph"), (482, "bgs-nsi"), (483, "ulpnet"), (484, "integra-sme"),
    (485, "powerburst"), (486, "avian"), (487, "saft"), (488, "gss-http"), (489, "nest-protocol"),
    (490, "micom-pfs"), (491, "go-login"), (492, "ticf-1"), (493, "ticf-2"), (494, "pov-ray"),
    (495, "intecourier"), (496, "pim-rp-disc"), (497, "retrospect"), (498, "siam"),
    (499, "iso-ill"), (500, "isakmp"), (501, "stmf"), (502, "mbap"), (503, "intrinsa"),
    (504, "citadel"), (505, "mailbox-lm"), (506, "ohimsrv"), (507, "crs"), (508, "xvttp"),
    (509, "snare"), (510, "fcp"), (511, "passgo"), (515, "printer"), (516, "videotex"),
    (517, "talk"), (518, "ntalk"), (519, "utime"), (521, "ripng"), (522, "ulp"), (523, "ibm-db2"),
    (524, "ncp"), (525, "timed"), (526, "tempo"), (527, "stx"), (528, "custix"), (529, "irc-serv"),
    (530, "courier"), (531, "conference"), (532, "netnews"), (533, "netwall"), (534, "windream"),
    (535, "iiop"), (536, "opalis-rdv"), (537, "nmsp"), (538, "gdomap"), (539, "apertus-ldp"),
    (540, "uucp"), (541, "uucp-rlogin"), (542, "commerce"), (543, "klogin"), (544, "kshell"),
    (545, "appleqtcsrvr"), (546, "dhcpv6-client"), (547, "dhcpv6-server"), (548, "afp"),
    (549, "idfp"), (550, "new-rwho"), (551, "cybercash"), (552, "devshr-nts"), (553, "pirp"),
    (554, "rtsp"), (555, "dsf"), (556, "remotefs"), (557, "openvms-sysipc"), (558, "sdnskmp"),
    (559, "teedtap"), (560, "rmonitor"), (561, "monitor"), (562, "chshell"), (563, "nntps"),
    (564, "9pfs"), (565, "whoami"), (566, "streettalk"), (567, "banyan-rpc"), (568, "ms-shuttle"),
    (569, "ms-rome"), (570, "meter"), (571, "umeter"), (572, "sonar"), (573, "banyan-vip"),
    (574, "ftp-agent"), (575, "vemmi"), (576, "ipcd"), (577, "vnas"), (578, "ipdd"),
    (579, "decbsrv"), (580, "sntp-heartbeat"), (581, "bdp"), (582, "scc-security"),
    (583, "philips-vc"), (584, "keyserver"), (586, "password-chg"), (587, "submission"),
    (588, "cal"), (589, "eyelink"), (590, "tns-cml"), (591, "http-alt"), (592, "eudora-set"),
    (593, "http-rpc-epmap"), (594, "tpip"), (595, "cab-protocol"), (596, "smsd"),
    (597, "ptcnameservice"), (598, "sco-websrvrmg3"), (599, "acp"), (600, "ipcserver"),
    (601, "syslog-conn"), (602, "xmlrpc-beep"), (603, "idxp"), (604, "tunnel"), (605, "soap-beep"),
    (606, "urm"), (607, "nqs"), (608, "sift-uft"), (609, "npmp-trap"), (610, "npmp-local"),
    (611, "npmp-gui"), (612, "hmmp-ind"), (613, "hmmp-op"), (614, "sshell"), (615, "sco-inetmgr"),
    (616, "sco-sysmgr"), (617, "sco-dtmgr"), (618, "dei-icda"), (619, "compaq-evm"),
    (620, "sco-websrvrmgr"), (621, "escp-ip"), (622, "collaborator"), (624, "cryptoadmin"),
    (625, "dec-dlm"), (626, "asia"), (627, "passgo-tivoli"), (628, "qmqp"), (629, "3com-amp3"),
    (630, "rda"), (631, "ipp"), (632, "bmpp"), (633, "servstat"), (634, "ginad"),
    (635, "rlzdbase"), (636, "ldaps"), (637, "lanserver"), (638, "mcns-sec"), (639, "msdp"),
    (640, "entrust-sps"), (641, "repcmd"), (642, "esro-emsdp"), (643, "sanity"), (644, "dwr"),
    (645, "pssc"), (646, "ldp"), (647, "dhcp-failover"), (648, "rrp"), (649, "cadview-3d"),
    (650, "obex"), (651, "ieee-mms"), (652, "hello-port"), (653, "repscmd"), (654, "aodv"),
    (655, "tinc"), (656, "spmp"), (657, "rmc"), (658, "tenfold"), (660, "mac-srvr-admin"),
    (661, "hap"), (662, "pftp"), (663, "purenoise"), (665, "sun-dr"), (666, "doom"),
    (667, "disclose"), (668, "mecomm"), (669, "meregister"), (670, "vacdsm-sws"),
    (671, "vacdsm-app"), (672, "vpps-qua"), (673, "cimplex"), (674, "acap"), (675, "dctp"),
    (676, "vpps-via"), (677, "vpp"), (678, "ggf-ncp"), (679, "mrm"), (680, "entrust-aaas"),
    (681, "entrust-aams"), (682, "xfr"), (683, "corba-iiop"), (684, "corba-iiop-ssl"),
    (685, "mdc-portmapper"), (686, "hcp-wismar"), (687, "asipregistry"), (688, "realm-rusd"),
    (689, "nmap"), (690, "vatp"), (691, "msexch-routing"), (692, "hyperwave-isp"),
    (693, "connendp"), (694, "ha-cluster"), (695, "ieee-mms-ssl"), (696, "rushd"),
    (697, "uuidgen"), (698, "olsr"), (699, "accessnetwork"), (700, "epp"), (701, "lmp"),
    (702, "iris-beep"), (704, "elcsd"), (705, "agentx"), (706, "silc"), (707, "borland-dsj"),
    (709, "entrust-kmsh"), (710, "entrust-ash"), (711, "cisco-tdp"), (712, "tbrpf"),
    (713, "iris-xpc"), (714, "iris-xpcs"), (715, "iris-lwz"), (729, "netviewdm1"),
    (730, "netviewdm2"), (731, "netviewdm3"), (741, "netgw"), (742, "netrcs"), (744, "flexlm"),
    (747, "fujitsu-dev"), (748, "ris-cm"), (749, "kerberos-adm"), (750, "kerberos-iv"),
    (751, "pump"), (752, "qrh"), (753, "rrh"), (754, "tell"), (758, "nlogin"), (759, "con"),
    (760, "ns"), (761, "rxe"), (762, "quotad"), (763, "cycleserv"), (764, "omserv"),
    (765, "webster"), (767, "phonebook"), (769, "vid"), (770, "cadlock"), (771, "rtip"),
    (772, "cycleserv2"), (776, "wpages"), (777, "multiling-http"), (780, "wpgs"),
    (800, "mdbs-daemon"), (801, "device"), (802, "mbap-s"), (810, "fcp-udp"), (828, "itm-mcell-s"),
    (829, "pkix-3-ca-ra"), (830, "netconf-ssh"), (831, "netconf-beep"), (832, "netconfsoaphttp"),
    (833, "netconfsoapbeep"), (847, "dhcp-failover2"), (848, "gdoi"), (853, "domain-s"),
    (860, "iscsi"), (861, "owamp-control"), (862, "twamp-control"), (873, "rsync"),
    (886, "iclcnet-locate"), (887, "iclcnet-svinfo"), (888, "accessbuilder"),
    (900, "omginitialrefs"), (901, "samba-swat"), (902, "vmware-auth"), (903, "ideafarm-panic"),
    (910, "kink"), (911, "xact-backup"), (912, "apex-mesh"), (913, "apex-edge"),
    (989, "ftps-data"), (990, "ftps"), (991, "nas"), (992, "telnets"), (993, "imaps"),
    (994, "ircs"), (995, "pop3s"), (996, "vsinet"), (997, "maitrd"), (1000, "cadlock2"),
    (1010, "surf"), (1021, "exp1"), (1022, "exp2"), (1025, "blackjack"), (1026, "cap"),
    (1029, "solid-mux"), (1033, "netinfo-local"), (1034, "activesync"), (1035, "mxxrlogin"),
    (1040, "netarx"), (1050, "cma"), (1080, "socks"), (1099, "rmiregistry"),
    (1111, "lmsocialserver"), (1119, "bnetgame"), (1167, "cisco-ipsla"), (1194, "openvpn"),
    (1214, "kazaa"), (1241, "nessus"), (1270, "opsmgr"), (1311, "rxmon"), (1352, "lotusnotes"),
    (1433, "ms-sql-s"), (1434, "ms-sql-m"), (1494, "citrix-ica"), (1512, "wins"), (1521, "oracle"),
    (1524, "ingreslock"), (1533, "virtual-places"), (1604, "icabrowser"), (1701, "l2tp"),
    (1718, "h323gatedisc"), (1719, "h323gatestat"), (1720, "h323q931"), (1723, "pptp"),
    (1755, "wms"), (1801, "msmq"), (1812, "radius"), (1813, "radius-acct"), (1863, "msnp"),
    (1883, "mqtt"), (1900, "upnp"), (1935, "rtmp"), (1984, "bigbrother"), (1985, "hsrp"),
    (2000, "cisco-sccp"), (2049, "nfs"), (2055, "netflow"), (2083, "radsec"), (2086, "gnunet"),
    (2100, "amiganetfs"), (2103, "zephyr-clt"), (2181, "eforward"), (2222, "ethernetip-1"),
    (2302, "binderysupport"), (2375, "docker"), (2376, "docker-s"), (2377, "swarm"),
    (2379, "etcd-client"), (2380, "etcd-server"), (2401, "cvspserver"), (2404, "iec-104"),
    (2427, "mgcp-gateway"), (2483, "ttc"), (2484, "ttc-ssl"), (2525, "ms-v-worlds"),
    (2601, "zebra"), (2604, "ospfd"), (2605, "bgpd"), (2702, "sms-xfer"), (2717, "pn-requester"),
    (2727, "mgcp-callagent"), (2809, "corbaloc"), (2947, "gpsd"), (2967, "ssc-agent"),
    (3000, "hbci"), (3050, "gds-db"), (3074, "xbox"), (3128, "squid-http"), (3260, "iscsi-target"),
    (3268, "globalcatldap"), (3269, "globalcatldapssl"), (3283, "netassistant"), (3306, "mysql"),
    (3310, "dyna-access"), (3333, "dec-notes"), (3389, "ms-wbt-server"), (3478, "stun"),
    (3493, "nut"), (3544, "teredo"), (3632, "distcc"), (3659, "apple-sasl"), (3689, "daap"),
    (3690, "svn"), (3702, "ws-discovery"), (3784, "bfd-control"), (3868, "diameter"),
    (3872, "oem-agent"), (4000, "terabase"), (4190, "sieve"), (4369, "epmd"), (4443, "pharos"),
    (4444, "krb524"), (4500, "ipsec-nat-t"), (4730, "gearman"), (4739, "ipfix"),
    (4786, "smart-install"), (4789, "vxlan"), (4840, "opcua-tcp"), (4899, "radmin"),
    (5000, "commplex-main"), (5001, "commplex-link"), (5004, "avt-profile-1"),
    (5005, "avt-profile-2"), (5009, "airport-admin"), (5050, "mmcc"), (5060, "sip"),
    (5061, "sips"), (5093, "sentinel-lm"), (5222, "xmpp-client"), (5269, "xmpp-server"),
    (5280, "xmpp-bosh"), (5351, "nat-pmp"), (5353, "mdns"), (5355, "llmnr"), (5357, "wsdapi"),
    (5432, "postgresql"), (5555, "personal-agent"), (5631, "pcanywheredata"),
    (5632, "pcanywherestat"), (5666, "nrpe"), (5672, "amqp"), (5683, "coap"), (5684, "coaps"),
    (5800, "vnc-http"), (5900, "vnc"), (5901, "vnc-1"), (5902, "vnc-2"), (5938, "teamviewer"),
    (5984, "couchdb"), (5985, "wsman"), (5986, "wsmans"), (6000, "x11"), (6001, "x11-1"),
    (6002, "x11-2"), (6081, "geneve"), (6343, "sflow"), (6379, "redis"), (6443, "sun-sr-https"),
    (6514, "syslog-tls"), (6566, "sane-port"), (6667, "irc"), (6697, "ircs-u"), (6969, "acmsoda"),
    (7000, "afs3-fileserver"), (7001, "afs3-callback"), (7002, "afs3-prserver"),
    (7070, "realserver"), (7100, "font-service"), (7443, "oracleas-https"), (7547, "cwmp"),
    (7777, "cbt"), (8000, "http-alt"), (8008, "http"), (8009, "ajp13"), (8080, "http-proxy"),
    (8081, "sunproxyadmin"), (8086, "d-s-n"), (8088, "radan-http"), (8333, "bitcoin"),
    (8443, "https-alt"), (8472, "otv"), (8883, "secure-mqtt"), (8888, "sun-answerbook"),
    (9000, "cslistener"), (9001, "tor-orport"), (9002, "dynamid"), (9050, "tor-socks"),
    (9080, "glrpc"), (9090, "websm"), (9091, "xmltec-xmlmail"), (9100, "jetdirect"),
    (9200, "wap-wsp"), (9418, "git"), (9443, "tungsten-https"), (9999, "abyss"), (10000, "ndmp"),
    (10050, "zabbix-agent"), (10051, "zabbix-trapper"), (11211, "memcache"), (11371, "pksd"),
    (17500, "db-lsp"), (20000, "dnp"), (25565, "minecraft"), (27017, "mongod"),
    (32768, "filenet-tms"), (44818, "ethernetip-2"), (47808, "bacnet"), (51820, "wireguard"),
    (62078, "iphone-sync"),
];

/// TCP ports by how often we expect to find them open, most common first.
#[rustfmt::skip]
const TCP_RANK: &[u16] = &[
    80, 443, 22, 21, 25, 23, 3389, 445, 139, 135, 53, 8080, 110, 143, 993, 995, 587, 465, 3306,
    8443, 8000, 111, 5900, 1433, 5432, 2049, 389, 636, 88, 464, 5985, 5986, 1723, 8081, 8888, 8008,
    9100, 631, 515, 179, 554, 5060, 5061, 1521, 6379, 27017, 11211, 9200, 5000, 5001, 3000, 9000,
    9090, 10000, 2222, 2375, 2376, 6443, 2379, 2380, 5672, 1883, 8883, 6667, 5222, 5269, 1080,
    3128, 8088, 873, 548, 427, 113, 79, 7, 9, 13, 19, 37, 512, 513, 514, 543, 544, 1099, 3268,
    3269, 593, 1025, 1026, 1029, 2000, 4443, 7443, 9443, 8009, 7001, 7002, 6000, 6001, 5800, 5901,
    5902, 5631, 5666, 4899, 2967, 1311, 902, 903, 3260, 860, 1194, 2601, 2604, 2605, 6514, 601,
    990, 989, 992, 994, 119, 563, 70, 3690, 9418, 2401, 3050, 8086, 5984, 7000, 7070, 7777, 9001,
    9050, 9080, 9091, 9999, 20000, 502, 102, 44818, 4840, 2404, 5357, 3283, 5009, 62078, 7547,
    5555, 161, 1900, 32768, 25565, 3074, 6969, 1241, 3632, 6566, 3493, 4369, 4730, 4786, 10050,
    10051, 11371, 17500, 1352, 1494, 5938, 2483, 2484, 3872, 4444, 1801, 1863, 1935, 1984, 2100,
    2181, 2525, 2809, 2947, 3310, 3333, 3478, 3659, 3689, 3784, 3868, 4000, 4190, 5004, 5005, 5050,
    5280, 5683, 5684, 6002, 6697, 7100, 8333, 9002, 106, 109, 144, 199, 211, 256, 264, 280, 311,
    366, 406, 407, 417, 425, 444, 458, 497, 500, 501, 524, 541, 545, 555, 616, 617, 625, 646, 666,
    683, 687, 691, 700, 705, 711, 714, 749, 765, 777, 800, 801, 888, 900, 901, 911, 912, 999, 1000,
    1010, 1021, 1022,
];

/// UDP ports by how often we expect to find them open, most common first.
#[rustfmt::skip]
const UDP_RANK: &[u16] = &[
    53, 123, 161, 137, 138, 67, 68, 69, 500, 4500, 1900, 5353, 514, 520, 162, 1434, 111, 2049, 445,
    135, 139, 631, 1701, 1812, 1813, 5060, 3478, 3702, 5355, 11211, 19, 7, 9, 13, 17, 37, 177, 427,
    623, 1194, 1604, 5351, 5632, 27015, 3074, 3283, 47808, 44818, 1719, 2427, 2727, 5004, 5005,
    546, 547, 88, 464, 389, 853, 5683, 5684, 3544, 4789, 8472, 6081, 51820, 518, 517, 512, 513,
    525, 3784, 4739, 2055, 6343, 1985, 5093, 17500, 33434, 1025, 1026, 1029, 1645, 1646, 1718,
    1720, 2000, 2222, 2302, 3389, 4000, 4444, 5000, 5001, 5050, 5222, 6000, 6001, 7000, 9200,
    10000, 20000, 32768, 49152, 49153, 49154, 1433, 773, 774, 775, 664, 662, 640, 626, 593, 502,
    497, 496, 407, 401, 363, 260, 217, 158, 136, 120, 80, 443, 49, 42,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lookups() {
        let db = ServiceDb::builtin();
        let t = |p| db.name(p, Proto::Tcp);
        let u = |p| db.name(p, Proto::Udp);
        assert_eq!(t(20), Some("ftp-data"));
        assert_eq!(t(21), Some("ftp"));
        assert_eq!(t(22), Some("ssh"));
        assert_eq!(t(23), Some("telnet"));
        assert_eq!(t(25), Some("smtp"));
        assert_eq!(t(53), Some("domain"));
        assert_eq!(u(53), Some("domain"));
        assert_eq!(t(80), Some("http"));
        assert_eq!(t(88), Some("kerberos"));
        assert_eq!(t(110), Some("pop3"));
        assert_eq!(t(111), Some("rpcbind"));
        assert_eq!(t(139), Some("netbios-ssn"));
        assert_eq!(t(443), Some("https"));
        assert_eq!(t(445), Some("microsoft-ds"));
        assert_eq!(t(3306), Some("mysql"));
        assert_eq!(t(3389), Some("ms-wbt-server"));
        assert_eq!(t(5432), Some("postgresql"));
        assert_eq!(t(8080), Some("http-proxy"));
        assert_eq!(t(514), Some("shell"));
        assert_eq!(u(514), Some("syslog"));
        assert_eq!(u(161), Some("snmp"));
        assert_eq!(u(33434), Some("traceroute"));
        assert_eq!(t(33434), None);
        assert_eq!(t(0), None);
        assert_eq!(t(65535), None);

        assert_eq!(db.port("ssh", Proto::Tcp), Some(22));
        assert_eq!(db.port("SSH", Proto::Tcp), Some(22));
        assert_eq!(db.port("syslog", Proto::Udp), Some(514));
        assert_eq!(db.port("syslog", Proto::Tcp), None);
        assert_eq!(db.port("nosuch", Proto::Tcp), None);
        // Shared names: best ranked first.
        assert_eq!(db.ports_named("http", Proto::Tcp), &[80, 8008]);
        assert_eq!(db.port("http-alt", Proto::Tcp), Some(8000));
        assert_eq!(db.ports_named("http-alt", Proto::Tcp), &[8000, 591]);
        assert_eq!(db.port("irc", Proto::Tcp), Some(6667));
    }

    #[test]
    fn table_is_consistent() {
        // Ports ascending and unique within each array; the protocol-specific
        // arrays never shadow a BOTH entry.
        for table in [BOTH, TCP_ONLY, UDP_ONLY] {
            for w in table.windows(2) {
                assert!(w[0].0 < w[1].0, "{:?} then {:?}", w[0], w[1]);
            }
            for &(_, n) in table {
                assert!(
                    !n.is_empty()
                        && n.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{n}"
                );
            }
        }
        for &(p, _) in TCP_ONLY.iter().chain(UDP_ONLY) {
            assert!(BOTH.iter().all(|&(q, _)| q != p), "{p} in BOTH too");
        }
        assert!(BOTH.len() + TCP_ONLY.len() >= 800);
        assert!(BOTH.len() + UDP_ONLY.len() >= 800);
        for rank in [TCP_RANK, UDP_RANK] {
            let mut seen = std::collections::HashSet::new();
            for &p in rank {
                assert!(seen.insert(p), "{p} ranked twice");
            }
        }
    }

    #[test]
    fn ranking() {
        let db = ServiceDb::builtin();
        for (proto, hand) in [(Proto::Tcp, TCP_RANK), (Proto::Udp, UDP_RANK)] {
            let rank = db.ranking(proto);
            assert!(rank.len() >= 1000, "{proto:?}: {}", rank.len());
            assert_eq!(&rank[..hand.len()], hand);
            let top100 = db.top(100, proto);
            assert_eq!(top100.len(), 100);
            assert_eq!(top100, PortList::from_ports(&hand[..100]));
            let top1000 = db.top(1000, proto);
            assert_eq!(top1000.len(), 1000);
            assert_eq!(top1000, PortList::from_ports(&rank[..1000]));
        }
        assert_eq!(&TCP_RANK[..5], &[80, 443, 22, 21, 25]);
        assert_eq!(&UDP_RANK[..3], &[53, 123, 161]);
        assert!(db.top(10, Proto::Tcp).contains(3389));
        assert_eq!(db.top(0, Proto::Tcp).len(), 0);
        assert_eq!(db.top(1, Proto::Udp).to_nmap_string(), "53");
        // After the hand ranking come the rest of 1..=1023.
        let tcp = db.ranking(Proto::Tcp);
        assert_eq!(tcp[TCP_RANK.len()], 1);
        assert!(tcp.contains(&62078));
        let all = db.top(70000, Proto::Tcp);
        assert_eq!(all.len(), 65535);
        assert_eq!(all.to_nmap_string(), "1-65535");
    }

    const SAMPLE: &str = "\
# a hand-written sample in nmap-services format
alpha\t10/tcp\t0.010000\t# first
beta\t11/tcp\t0.500000
gamma\t12/tcp\t0.500000\t# ties rank by port
delta\t12/udp\t0.900000
eps\t13/udp
sctp-thing\t14/sctp\t0.9

unknown\t15/tcp\t0.000100
";

    #[test]
    fn nmap_services_sample() {
        let db = ServiceDb::from_nmap_services(SAMPLE).unwrap();
        assert_eq!(db.name(10, Proto::Tcp), Some("alpha"));
        assert_eq!(db.name(12, Proto::Tcp), Some("gamma"));
        assert_eq!(db.name(12, Proto::Udp), Some("delta"));
        assert_eq!(db.name(14, Proto::Tcp), None);
        assert_eq!(db.name(15, Proto::Tcp), Some("unknown"));
        assert_eq!(db.port("eps", Proto::Udp), Some(13));
        assert_eq!(db.port("eps", Proto::Tcp), None);
        assert_eq!(db.ranking(Proto::Tcp), &[11, 12, 10, 15]);
        assert_eq!(db.ranking(Proto::Udp), &[12, 13]);
        assert_eq!(db.top(2, Proto::Tcp).to_nmap_string(), "11-12");
        // Past the known ports: fill ascending from 1.
        assert_eq!(db.top(6, Proto::Tcp).to_nmap_string(), "1-2,10-12,15");
        assert_eq!(db.top(3, Proto::Udp).to_nmap_string(), "1,12-13");
    }

    #[test]
    fn nmap_services_errors() {
        let e = |t: &str| ServiceDb::from_nmap_services(t).unwrap_err().to_string();
        assert_eq!(
            e("a\t99999/tcp\t0.1\n"),
            "services file line 1: invalid port \"99999\""
        );
        assert_eq!(
            e("# c\na\t80-tcp\t0.1\n"),
            "services file line 2: expected port/proto, found \"80-tcp\""
        );
        assert_eq!(
            e("a\t80/tcp\tmany\n"),
            "services file line 1: invalid frequency \"many\""
        );
        assert_eq!(
            e("a\t80/tcp\t-1\n"),
            "services file line 1: invalid frequency \"-1\""
        );
        assert_eq!(
            e("lonely\n"),
            "services file line 1: expected \"name port/proto [frequency]\", found \"lonely\""
        );
        assert_eq!(
            e("# nothing\n\n"),
            "services file has no TCP or UDP entries"
        );
        assert_eq!(
            e("x\t1/sctp\t0.1\n"),
            "services file has no TCP or UDP entries"
        );
    }
}
