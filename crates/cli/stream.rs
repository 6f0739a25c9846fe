//! The engine session's results, as the report writers and the terminal
//! want them: host results become `HostReport`s (with service names and
//! reverse-DNS names), open UDP ports are announced as found, `-v` prints
//! what the adaptive rate did, and an interrupted run leaves its resume
//! file.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use vigie_engine::session::{HostResult, Interrupted, Sink};
use vigie_engine::version::Detected;
use vigie_engine::Outcome;
use vigie_report::{HostReport, HostStatus, PortResult, ServiceInfo, Sink as _, TlsFields};
use vigie_scan::services::ServiceDb;
use vigie_scan::{Proto, Technique};

use crate::resume;
use crate::{args, progress, reverse_names, Fail, Output};

/// Writes what a session finds to the run's outputs.
pub(crate) struct ReportSink<'o, 's> {
    pub out: &'o mut Output<'s>,
    pub db: &'o ServiceDb,
    pub opts: &'o args::Options,
    pub start: SystemTime,
    pub seed: u64,
    /// Announce open UDP ports on stdout ("Discovered open port …") as
    /// nmap does: when the human-readable table goes there.
    pub stream_udp: bool,
    /// Reverse names of the report window being written.
    pub names: HashMap<IpAddr, String>,
    /// The history store's writer, unless `--no-history`.
    pub recorder: Option<&'o mut vigie_store::Recorder>,
    /// Reports of the window built ahead (see [`Sink::ahead`]), in order,
    /// each with whether the history has it.
    pub ahead: VecDeque<(i64, Arc<HostReport>, bool)>,
}

impl ReportSink<'_, '_> {
    /// The report of one host, as the outputs and the history take it.
    fn report(&mut self, h: &HostResult) -> HostReport {
        HostReport {
            addr: h.addr,
            hostname: self.names.remove(&h.addr),
            mac: h.mac,
            status: HostStatus {
                up: h.status.up,
                reason: h.status.reason,
                ttl: h.status.ttl,
            },
            latency: h.latency,
            start: self.start,
            end: h.end,
            ports: h
                .ports
                .iter()
                .map(|p| PortResult {
                    proto: p.proto,
                    port: p.port,
                    state: p.state,
                    reason: p.reason,
                    ttl: p.ttl,
                    service: self.db.name(p.port, p.proto).map(str::to_owned),
                    detected: h
                        .services
                        .iter()
                        .find(|(proto, port, _)| *proto == p.proto && *port == p.port)
                        .and_then(|(_, _, d)| service_info(d)),
                })
                .collect(),
            srtt: h.srtt,
            rttvar: h.rttvar,
            timeout: h.timeout,
        }
    }
}

/// A host's place in the history: its place in the targets.
fn seq(h: &HostResult) -> i64 {
    i64::try_from(h.index).unwrap_or(i64::MAX)
}

impl Sink for ReportSink<'_, '_> {
    type Error = Fail;

    fn window(&mut self, hosts: &[(IpAddr, bool)]) -> Result<(), Fail> {
        self.names.clear();
        if self.opts.no_dns {
            return Ok(());
        }
        // nmap's budget, per window: the first 256 hosts that want a name
        // (the up ones; every one with -R).
        let want: Vec<IpAddr> = hosts
            .iter()
            .filter(|(_, up)| *up || self.opts.always_dns)
            .map(|(a, _)| *a)
            .take(256)
            .collect();
        for (a, n) in want.iter().zip(reverse_names(&want)) {
            if let Some(n) = n {
                self.names.insert(*a, n);
            }
        }
        Ok(())
    }

    fn host(&mut self, h: &HostResult) -> Result<(), Fail> {
        let built = match self.ahead.front() {
            Some((s, _, _)) if *s == seq(h) => self.ahead.pop_front(),
            _ => None,
        };
        let (r, recorded) = match built {
            Some((_, r, recorded)) => (r, recorded),
            None => (Arc::new(self.report(h)), false),
        };
        // Every host the outputs are given, down ones too (-oJ lists them);
        // one given early or ahead is recorded already. To the history
        // first: a host of many ports is written there while the outputs
        // write it here.
        if let Some(rec) = self
            .recorder
            .as_deref_mut()
            .filter(|_| !h.early && !recorded)
        {
            rec.host_at(seq(h), Arc::clone(&r));
        }
        let out = &mut *self.out;
        progress::suspend(|| out.write(|s| s.host(&r)))?;
        Ok(())
    }

    /// Hosts go to the history while the scan waits for its last replies,
    /// unless their names are still to be looked up (in their window).
    fn early(&self) -> bool {
        self.recorder.is_some() && self.opts.no_dns
    }

    fn settled(&mut self, h: &HostResult) -> bool {
        let r = self.report(h);
        match self.recorder.as_deref_mut() {
            Some(rec) => rec.try_host_at(seq(h), r),
            None => true,
        }
    }

    /// The window's hosts not recorded yet go to the history before the
    /// outputs write any (as many as its queue takes without waiting), so
    /// that they are written while the outputs are.
    fn ahead(&mut self, hosts: &[&HostResult]) {
        self.ahead.clear();
        if self.recorder.is_none() {
            return;
        }
        // Up to the queue's size: the rest are built one at a time, as the
        // outputs take them.
        for h in hosts.iter().filter(|h| !h.early) {
            let r = Arc::new(self.report(h));
            let taken = self
                .recorder
                .as_deref_mut()
                .is_some_and(|rec| rec.try_host_at(seq(h), Arc::clone(&r)));
            self.ahead.push_back((seq(h), r, taken));
            if !taken {
                break;
            }
        }
        if let Some(rec) = self.recorder.as_deref_mut() {
            rec.try_flush();
        }
    }

    fn window_done(&mut self) -> Result<(), Fail> {
        // The window's hosts came in one burst: out to every output now.
        let out = &mut *self.out;
        progress::suspend(|| out.write(|s| s.flush()))?;
        if let Some(rec) = self.recorder.as_deref_mut() {
            rec.flush();
        }
        Ok(())
    }

    fn timed_out(&mut self, addr: IpAddr) -> Result<(), Fail> {
        eprintln!("vigie: skipping host {addr}: --host-timeout reached before its scan finished");
        Ok(())
    }

    fn open_port(&mut self, addr: IpAddr, port: u16, proto: Proto) {
        if proto != Proto::Udp || !self.stream_udp {
            return;
        }
        progress::suspend(|| {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "Discovered open port {port}/udp on {addr}");
            let _ = out.flush();
        });
    }

    fn outcome(&mut self, _technique: Technique, o: &Outcome) {
        if self.opts.verbose > 0 {
            rate_line(o);
        }
    }

    fn interrupted(&mut self, st: &Interrupted<'_>) -> Result<(), Fail> {
        let path = Path::new(resume::RESUME_FILE);
        resume::write_resume_streamed(
            path,
            &self.opts.argv,
            self.seed,
            st.block,
            Some(st.block_hosts),
            st.plans.iter().map(|(at, r)| (*at, r.known())),
        )
        .map_err(|e| Fail::Runtime(format!("cannot write {}: {e}", path.display())))?;
        eprintln!(
            "vigie: interrupted; finish the scan with: vigie --resume {}",
            path.display()
        );
        Ok(())
    }

    fn resuming(&mut self, block: u64, blocks: u64) {
        eprintln!(
            "vigie: resuming at host block {} of {blocks}: this run reports that block and the \
             ones after it; `vigie merge` joins its -oJ output with the interrupted run's",
            block + 1
        );
    }
}

/// `-v`: what the adaptive rate did and the loss it saw, on stderr (stdout
/// may carry an output format).
fn rate_line(o: &Outcome) {
    let Some(r) = o.rate else { return };
    let cap = |c: Option<f64>| c.map_or("unlimited".to_owned(), |c| format!("{c:.0} pps"));
    eprintln!(
        "vigie: rate: peak {:.0} pps sent, final cap {}, lowest cap {}, {} back-offs; \
         loss {:.1}% (replies to retransmissions per reply to the pass before); \
         {} probes sent, {} retransmitted",
        r.peak_sent,
        cap(r.final_rate),
        cap(r.lowest),
        r.backoffs,
        r.loss * 100.0,
        o.sent,
        o.retransmitted
    );
}

/// What `-sV` found, as the reports show it; `None` when nothing matched
/// (the table's name is shown then).
fn service_info(d: &Detected) -> Option<Box<ServiceInfo>> {
    let tls = d.tls.as_ref().map(|t| {
        let c = t.cert.as_ref();
        TlsFields {
            version: t.version.clone(),
            cipher: t.cipher.clone(),
            alpn: t.alpn.clone(),
            subject: c.map(|c| c.subject.clone()),
            issuer: c.map(|c| c.issuer.clone()),
            sans: c.map(|c| c.sans.clone()).unwrap_or_default(),
            not_before: c.map(|c| c.not_before),
            not_after: c.map(|c| c.not_after),
            key: c.map(|c| c.key.clone()),
            sha256: c.map(|c| c.sha256.clone()),
        }
    });
    if d.wrapped {
        return Some(Box::new(ServiceInfo {
            name: "tcpwrapped".into(),
            conf: 8,
            ..ServiceInfo::default()
        }));
    }
    let f = d.found.as_ref()?;
    Some(Box::new(ServiceInfo {
        name: f.service.clone(),
        product: f.product.clone(),
        version: f.version.clone(),
        extrainfo: f.info.clone(),
        hostname: f.hostname.clone(),
        ostype: f.ostype.clone(),
        devicetype: f.devicetype.clone(),
        tunnel_ssl: tls.is_some() && f.service != "ssl",
        conf: 10,
        cpe: f.cpe.clone(),
        tls,
    }))
}
