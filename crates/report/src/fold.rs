//! nmap's rule for which ports are listed and which are summarised.
//!
//! Checked against nmap 7.93:
//! - open ports are never folded;
//! - a state is folded when the host has more than 25 ports in it, counted
//!   over every protocol together; with `-v`/`-vv`/… the limit is 25 × (1 + v);
//! - with `-vvv` (verbosity above 2) open|filtered is never folded;
//! - with `--open`, every state except open, open|filtered and unfiltered is
//!   folded whatever its count (those three still obey the limit).
//!
//! Folded states come out with the largest count first ("Not shown: 901
//! closed tcp ports (reset), 98 filtered …"), and within a state the reasons
//! with the largest count first.

use std::collections::BTreeMap;

use vigie_scan::ports::PortList;
use vigie_scan::{PortState, Proto, Reason};

use crate::{HostReport, Options, PortResult};

/// The ports a writer lists, and the summary of the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded<'a> {
    /// Listed ports, in the host's order (proto, port).
    pub shown: Vec<&'a PortResult>,
    /// One entry per (state, protocol) folded, states with the most ports
    /// first, tcp before udp inside a state. Consecutive entries with the same
    /// `state` belong to one `<extraports>` element.
    pub hidden: Vec<HiddenState>,
}

/// Ports of one state and protocol that are not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenState {
    pub state: PortState,
    pub proto: Proto,
    pub count: u32,
    /// (reason, how many ports, which ports), most frequent reason first.
    pub reasons: Vec<(Reason, u32, PortList)>,
}

impl Folded<'_> {
    /// Number of distinct states folded (nmap prints grepable's "Ignored
    /// State" only when this is 1).
    pub fn hidden_state_count(&self) -> usize {
        let mut n = 0;
        let mut last = None;
        for h in &self.hidden {
            if last != Some(h.state) {
                n += 1;
                last = Some(h.state);
            }
        }
        n
    }

    /// Total ports folded in `state`, all protocols.
    pub fn hidden_count(&self, state: PortState) -> u32 {
        self.hidden
            .iter()
            .filter(|h| h.state == state)
            .map(|h| h.count)
            .sum()
    }

    /// Total ports folded.
    pub fn hidden_total(&self) -> u32 {
        self.hidden.iter().map(|h| h.count).sum()
    }
}

/// Highest port count a state may have and still be listed.
fn max_per_state(verbose: u8) -> u32 {
    if verbose == 0 {
        25
    } else {
        25 * (1 + u32::from(verbose))
    }
}

fn is_folded(state: PortState, count: u32, opts: &Options) -> bool {
    if count == 0 || state == PortState::Open {
        return false;
    }
    if state == PortState::OpenFiltered && opts.verbose > 2 {
        return false;
    }
    if opts.open_only && !matches!(state, PortState::OpenFiltered | PortState::Unfiltered) {
        return true;
    }
    count > max_per_state(opts.verbose)
}

/// Split a host's ports into listed and summarised, by nmap's rule.
pub fn fold<'a>(host: &'a HostReport, opts: &Options) -> Folded<'a> {
    let mut per_state = [0u32; PortState::ALL.len()];
    for p in &host.ports {
        per_state[state_index(p.state)] += 1;
    }
    let folded = |s: PortState| is_folded(s, per_state[state_index(s)], opts);

    let mut shown = Vec::new();
    // (state, proto) -> reason -> ports
    let mut groups: BTreeMap<(PortState, Proto), BTreeMap<Reason, Vec<u16>>> = BTreeMap::new();
    for p in &host.ports {
        if folded(p.state) {
            groups
                .entry((p.state, p.proto))
                .or_default()
                .entry(p.reason)
                .or_default()
                .push(p.port);
        } else {
            shown.push(p);
        }
    }

    let mut hidden: Vec<HiddenState> = groups
        .into_iter()
        .map(|((state, proto), reasons)| {
            let mut reasons: Vec<(Reason, u32, PortList)> = reasons
                .into_iter()
                .map(|(r, ports)| (r, ports.len() as u32, PortList::from_ports(&ports)))
                .collect();
            // most frequent first; ties keep Reason's order (stable sort)
            reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
            HiddenState {
                state,
                proto,
                count: reasons.iter().map(|r| r.1).sum(),
                reasons,
            }
        })
        .collect();
    // states with the most ports first; ties keep PortState then Proto order
    hidden.sort_by_key(|h| std::cmp::Reverse(per_state[state_index(h.state)]));
    Folded { shown, hidden }
}

fn state_index(s: PortState) -> usize {
    PortState::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn host_with(ports: Vec<PortResult>) -> HostReport {
        let mut h = host_small();
        h.ports = ports;
        h
    }

    fn shown_ports(f: &Folded<'_>) -> Vec<u16> {
        f.shown.iter().map(|p| p.port).collect()
    }

    #[test]
    fn twenty_five_is_listed_twenty_six_is_folded() {
        let h = host_with(tcp_range(1, 25, PortState::Closed, Reason::Reset));
        let f = fold(&h, &Options::default());
        assert_eq!(f.shown.len(), 25);
        assert!(f.hidden.is_empty());

        let h = host_with(tcp_range(1, 26, PortState::Closed, Reason::Reset));
        let f = fold(&h, &Options::default());
        assert!(f.shown.is_empty());
        assert_eq!(
            f.hidden,
            vec![HiddenState {
                state: PortState::Closed,
                proto: Proto::Tcp,
                count: 26,
                reasons: vec![(Reason::Reset, 26, PortList::from_ranges([(1, 26)]))],
            }]
        );
    }

    #[test]
    fn open_never_folded() {
        let h = host_with(tcp_range(1, 1000, PortState::Open, Reason::SynAck));
        let f = fold(&h, &Options::default());
        assert_eq!(f.shown.len(), 1000);
        assert!(f.hidden.is_empty());
    }

    #[test]
    fn verbosity_raises_the_limit() {
        let h = host_with(tcp_range(1, 50, PortState::Closed, Reason::Reset));
        let v1 = Options {
            verbose: 1,
            ..Options::default()
        };
        assert_eq!(fold(&h, &v1).shown.len(), 50);
        let h = host_with(tcp_range(1, 51, PortState::Closed, Reason::Reset));
        assert_eq!(fold(&h, &v1).shown.len(), 0);
        let v2 = Options {
            verbose: 2,
            ..Options::default()
        };
        assert_eq!(fold(&h, &v2).shown.len(), 51);
        let h = host_with(tcp_range(1, 76, PortState::Closed, Reason::Reset));
        assert_eq!(fold(&h, &v2).shown.len(), 0);
    }

    #[test]
    fn vvv_never_folds_open_filtered() {
        let h = host_with(udp_range(
            1,
            500,
            PortState::OpenFiltered,
            Reason::NoResponse,
        ));
        let v2 = Options {
            verbose: 2,
            ..Options::default()
        };
        assert_eq!(fold(&h, &v2).shown.len(), 0);
        let v3 = Options {
            verbose: 3,
            ..Options::default()
        };
        assert_eq!(fold(&h, &v3).shown.len(), 500);
    }

    #[test]
    fn count_is_over_all_protocols() {
        // nmap 7.93, -p T:20-40,U:50-60: 20 closed tcp + 10 closed udp = 30 > 25
        let mut ports = tcp_range(20, 40, PortState::Closed, Reason::Reset);
        ports[2] = port(Proto::Tcp, 22, PortState::Open, Reason::SynAck, 64);
        ports.extend(udp_range(50, 60, PortState::Closed, Reason::PortUnreach));
        ports[21 + 3] = port(
            Proto::Udp,
            53,
            PortState::OpenFiltered,
            Reason::NoResponse,
            0,
        );
        let h = host_with(ports);
        let f = fold(&h, &Options::default());
        assert_eq!(shown_ports(&f), vec![22, 53]);
        assert_eq!(f.hidden.len(), 2);
        assert_eq!(f.hidden_state_count(), 1);
        assert_eq!(f.hidden_count(PortState::Closed), 30);
        assert_eq!((f.hidden[0].proto, f.hidden[0].count), (Proto::Tcp, 20));
        assert_eq!(f.hidden[0].reasons[0].2.to_nmap_string(), "20-21,23-40");
        assert_eq!((f.hidden[1].proto, f.hidden[1].count), (Proto::Udp, 10));
        assert_eq!(f.hidden[1].reasons[0].2.to_nmap_string(), "50-52,54-60");
    }

    #[test]
    fn states_by_count_reasons_by_count() {
        // Mirrors nmap 7.93 on -p 100-205,400 (61 drop, 4 admin-prohibited,
        // 1 host-unreach, 41 closed): filtered first, then closed.
        let mut ports = tcp_range(100, 160, PortState::Filtered, Reason::NoResponse);
        ports.extend(tcp_range(161, 199, PortState::Closed, Reason::Reset));
        ports.extend(tcp_range(
            200,
            203,
            PortState::Filtered,
            Reason::AdminProhibited,
        ));
        ports.extend(tcp_range(204, 205, PortState::Closed, Reason::Reset));
        ports.push(port(
            Proto::Tcp,
            400,
            PortState::Filtered,
            Reason::HostUnreach,
            64,
        ));
        let h = host_with(ports);
        let f = fold(&h, &Options::default());
        assert!(f.shown.is_empty());
        assert_eq!(f.hidden_state_count(), 2);
        assert_eq!(f.hidden[0].state, PortState::Filtered);
        assert_eq!(f.hidden[0].count, 66);
        let r: Vec<(Reason, u32, String)> = f.hidden[0]
            .reasons
            .iter()
            .map(|(r, n, l)| (*r, *n, l.to_nmap_string()))
            .collect();
        assert_eq!(
            r,
            vec![
                (Reason::NoResponse, 61, "100-160".to_string()),
                (Reason::AdminProhibited, 4, "200-203".to_string()),
                (Reason::HostUnreach, 1, "400".to_string()),
            ]
        );
        assert_eq!(f.hidden[1].state, PortState::Closed);
        assert_eq!(f.hidden[1].count, 41);
        assert_eq!(f.hidden[1].reasons[0].2.to_nmap_string(), "161-199,204-205");
        assert_eq!(f.hidden_total(), 107);
    }

    #[test]
    fn open_only_folds_everything_not_open_like() {
        let mut ports = tcp_range(20, 30, PortState::Closed, Reason::Reset);
        ports[2] = port(Proto::Tcp, 22, PortState::Open, Reason::SynAck, 64);
        ports[3] = port(Proto::Tcp, 23, PortState::Unfiltered, Reason::Reset, 64);
        ports[4] = port(Proto::Tcp, 24, PortState::Filtered, Reason::NoResponse, 0);
        ports.extend(udp_range(
            53,
            53,
            PortState::OpenFiltered,
            Reason::NoResponse,
        ));
        let h = host_with(ports);
        let opts = Options {
            open_only: true,
            ..Options::default()
        };
        let f = fold(&h, &opts);
        assert_eq!(shown_ports(&f), vec![22, 23, 53]);
        assert_eq!(f.hidden.len(), 2);
        assert_eq!(
            (f.hidden[0].state, f.hidden[0].count),
            (PortState::Closed, 8)
        );
        assert_eq!(
            (f.hidden[1].state, f.hidden[1].count),
            (PortState::Filtered, 1)
        );
    }

    #[test]
    fn open_only_still_limits_open_filtered() {
        let h = host_with(udp_range(
            1,
            30,
            PortState::OpenFiltered,
            Reason::NoResponse,
        ));
        let opts = Options {
            open_only: true,
            ..Options::default()
        };
        let f = fold(&h, &opts);
        assert!(f.shown.is_empty());
        assert_eq!(f.hidden_count(PortState::OpenFiltered), 30);
    }
}
