//! The service lab: real daemons from Debian packages in the target
//! namespace, for `-sV` tests, with a ground truth of what runs where.
//!
//! ```text
//!   scanner ns (vgs-<pid>-<n>)          target ns (vgt-<pid>-<n>)
//!   v0 198.18.0.1/24   <-------->       v1 198.18.0.2/24
//!                                        sshd, dropbear, vsftpd, exim, dovecot,
//!                                        nginx (+TLS), apache, lighttpd, postgres,
//!                                        mariadb, redis, memcached, mosquitto,
//!                                        slapd, named, snmpd, rsync, ngircd,
//!                                        chronyd, a silent and a closing port
//! ```
//!
//! Every daemon runs in the foreground as a child of the lab (through
//! `ip netns exec`), with its own configuration, data and logs under a
//! per-lab directory (`$TMPDIR/vigie-svc-<pid>-<n>`); nothing reads the
//! system's configuration in /etc or touches the host's services. The
//! versions in the [`Truth`] table are read from the installed packages
//! (`dpkg-query`) when the lab starts, never written down here.
//!
//! On drop every process left in the target namespace is killed (each
//! checked to be in that namespace first), then the namespaces and the
//! directory are removed. A lab left behind by a killed test run is cleaned
//! up by the next [`ServiceLab::new`].

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::{in_netns, Lab, Layout};

/// Transport protocol of a ground-truth entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// `tcp` / `udp`, as in nmap's XML.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// How a port shows it is alive (readiness, and the test's first check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The server speaks first; its first bytes start with this.
    Banner(&'static [u8]),
    /// Send the request; the answer starts with the expected bytes (empty:
    /// any answer).
    Request(&'static [u8], &'static [u8]),
    /// TLS (through `openssl s_client`), then the request; the decrypted
    /// answer contains the expected bytes.
    Tls(&'static [u8], &'static [u8]),
    /// A UDP request; any datagram back from the port.
    Udp(&'static [u8]),
    /// Accepts and never sends a byte.
    Silent,
    /// Accepts and closes at once.
    Closes,
}

/// What really runs on one port: the ground truth a `-sV` is judged by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truth {
    pub proto: Proto,
    pub port: u16,
    /// nmap's service name (`ssh`, `http`, …); `None` where nothing speaks
    /// (the silent port).
    pub name: Option<&'static str>,
    /// The product as nmap's probe file names it; `None` where the protocol
    /// does not reveal the software.
    pub product: Option<&'static str>,
    /// The upstream version as the daemon reveals it on the wire, read from
    /// the installed package; `None` where the protocol does not reveal it.
    pub version: Option<String>,
    /// `Some("ssl")` for a service inside TLS.
    pub tunnel: Option<&'static str>,
    /// Which lab daemon serves the port.
    pub daemon: &'static str,
    /// The Debian package and its full installed version (for reports,
    /// also where `version` is `None`).
    pub package: String,
    pub installed: String,
    pub check: Check,
}

impl Truth {
    /// Whether `found` (as a scanner reports it) is this version: equal, or
    /// this version followed by a separator (`9.2p1 Debian 2+deb12u1`,
    /// `9.18.49-1~deb12u1-Debian`). `None` only matches `None`.
    pub fn version_matches(&self, found: Option<&str>) -> bool {
        match (self.version.as_deref(), found) {
            (None, None) => true,
            (Some(t), Some(f)) => {
                f == t
                    || f.strip_prefix(t)
                        .and_then(|rest| rest.chars().next())
                        .is_some_and(|c| !c.is_ascii_alphanumeric() && c != '.')
            }
            _ => false,
        }
    }
}

/// The silent TCP port (accepts, never answers) and the closing one.
pub const SILENT_PORT: u16 = 31337;
pub const CLOSING_PORT: u16 = 31338;

/// How long one daemon may take to answer after it was started.
const READY_DEADLINE: Duration = Duration::from_secs(40);
const IO_TIMEOUT: Duration = Duration::from_secs(2);

static SVC_COUNTER: AtomicUsize = AtomicUsize::new(0);

struct Daemon {
    name: &'static str,
    child: Child,
    /// stdout/stderr of the process and the daemon's own log files.
    logs: Vec<PathBuf>,
}

/// A running service lab; see the module documentation.
pub struct ServiceLab {
    daemons: Vec<Daemon>,
    truth: Vec<Truth>,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    // Dropped last: the namespaces go after every process in them.
    lab: Lab,
}

/// A package's installed version, or an error naming it.
fn installed_version(packages: &[&str]) -> anyhow::Result<(String, String)> {
    for p in packages {
        let out = Command::new("dpkg-query")
            .args(["-W", "-f", "${db:Status-Abbrev}|${Version}", p])
            .stdin(Stdio::null())
            .output()
            .context("run dpkg-query")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some((status, version)) = text.split_once('|') {
            if out.status.success() && status.starts_with("ii") && !version.is_empty() {
                return Ok(((*p).to_owned(), version.to_owned()));
            }
        }
    }
    bail!(
        "none of the packages {} is installed (see .ci/run)",
        packages.join(", ")
    )
}

/// The upstream part of a Debian version: no epoch, no Debian revision,
/// no `+dfsg` / `~deb12u1` style suffix (`1:9.2p1-2+deb12u3` → `9.2p1`,
/// `5:7.0.15-1~deb12u1` → `7.0.15`).
pub fn upstream_version(debian: &str) -> String {
    let v = debian.split_once(':').map_or(debian, |(_, v)| v);
    let v = v.rsplit_once('-').map_or(v, |(v, _)| v);
    let v = v.split(['+', '~']).next().unwrap_or(v);
    v.to_owned()
}

/// The installed PostgreSQL major version (the highest under
/// /usr/lib/postgresql with a `bin/postgres`).
fn postgres_major() -> anyhow::Result<u32> {
    let dir = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql (apt-get install postgresql)")?;
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|m| Path::new(&format!("/usr/lib/postgresql/{m}/bin/postgres")).exists())
        .max()
        .ok_or_else(|| anyhow!("no PostgreSQL server under /usr/lib/postgresql"))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn mkdir(path: &Path, mode: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("mkdir {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

fn chown(owner: &str, path: &Path) -> anyhow::Result<()> {
    crate::run(Command::new("chown").arg("-R").arg(owner).arg(path))
}

/// The last lines of a log file (for error messages).
fn tail(path: &Path, lines: usize) -> String {
    let Ok(text) = std::fs::read(path) else {
        return format!("(no {})", path.display());
    };
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    format!("--- {} ---\n{}", path.display(), all[from..].join("\n"))
}

/// The inode of a network namespace file (`/run/netns/x`, `/proc/p/ns/net`).
fn netns_inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Pids of the processes in the named namespace (`ip netns pids`).
fn netns_pids(ns: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Send `signal` to `pid`, but only if it is in the namespace `ns`.
fn kill_in_ns(ns: &str, pid: u32, signal: &str) {
    let want = netns_inode(&Path::new("/run/netns").join(ns));
    let have = netns_inode(Path::new(&format!("/proc/{pid}/ns/net")));
    if want.is_some() && want == have {
        let _ = Command::new("kill")
            .args([signal, &pid.to_string()])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Kill every process in the namespace `ns` (each checked to be in it),
/// wait up to 5 s for them to go, then delete the namespace: a service lab
/// left behind by a process killed with SIGKILL, whose daemons still run.
/// Returns whether the namespace existed.
pub fn kill_namespace(ns: &str) -> anyhow::Result<bool> {
    if !Path::new("/run/netns").join(ns).exists() {
        return Ok(false);
    }
    for pid in netns_pids(ns) {
        kill_in_ns(ns, pid, "-KILL");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !netns_pids(ns).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    crate::run(Command::new("ip").args(["netns", "del", ns]))?;
    Ok(true)
}

/// Kill what a crashed run left: every process in a stale target namespace
/// (its creator is gone), and stale lab directories. The namespaces
/// themselves go with `Lab::new`'s own stale sweep.
fn remove_stale() {
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with("vgt-") {
                continue;
            }
            let Some(pid) = crate::stale_pid(name) else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                for p in netns_pids(name) {
                    kill_in_ns(name, p, "-KILL");
                }
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("vigie-svc-")) else {
                continue;
            };
            let Some((pid, n)) = rest.split_once('-') else {
                continue;
            };
            let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<usize>()) else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

impl ServiceLab {
    /// Build the lab and start every daemon; returns once each answers.
    pub fn new() -> anyhow::Result<ServiceLab> {
        crate::require_root()?;
        remove_stale();
        ServiceLab::start(Lab::new(&ServiceLab::layout())?)
    }

    /// The same lab in namespaces with the given names (`vigie-lab
    /// services` uses fixed ones). Fails if either namespace exists
    /// already; [`kill_namespace`] then removes one left behind.
    pub fn with_names(scanner_ns: &str, target_ns: &str) -> anyhow::Result<ServiceLab> {
        crate::require_root()?;
        remove_stale();
        ServiceLab::start(Lab::with_names(
            &ServiceLab::layout(),
            scanner_ns,
            target_ns,
        )?)
    }

    /// The base lab under the daemons: the closing port's listener, every
    /// other port closed.
    fn layout() -> Layout {
        Layout {
            open: vec![CLOSING_PORT],
            ..Layout::default()
        }
    }

    fn start(lab: Lab) -> anyhow::Result<ServiceLab> {
        let n = SVC_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vigie-svc-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = ServiceLab {
            daemons: Vec::new(),
            truth: Vec::new(),
            dir,
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            lab,
        };
        // On error `s` drops here: every daemon started so far is killed.
        s.build().context("building the service lab")?;
        Ok(s)
    }

    /// The namespaces, addresses and `scanner_cmd` of the underlying lab.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The ground truth, ordered by (proto, port).
    pub fn truth(&self) -> &[Truth] {
        &self.truth
    }

    /// The lab's own directory (configs, data, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The TCP or UDP ports of the ground truth.
    pub fn ports(&self, proto: Proto) -> Vec<u16> {
        self.truth
            .iter()
            .filter(|t| t.proto == proto)
            .map(|t| t.port)
            .collect()
    }

    /// Names of the daemons running (one per process the lab started).
    pub fn daemons(&self) -> Vec<&'static str> {
        self.daemons.iter().map(|d| d.name).collect()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn d(&self) -> String {
        self.dir.display().to_string()
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        proto: Proto,
        port: u16,
        name: Option<&'static str>,
        product: Option<&'static str>,
        version: Option<String>,
        tunnel: Option<&'static str>,
        daemon: &'static str,
        pkg: &(String, String),
        check: Check,
    ) {
        self.truth.push(Truth {
            proto,
            port,
            name,
            product,
            version,
            tunnel,
            daemon,
            package: pkg.0.clone(),
            installed: pkg.1.clone(),
            check,
        });
    }

    /// Start `program args…` in the target namespace, in the foreground,
    /// stdout and stderr to `<dir>/<name>.out`.
    fn spawn(
        &mut self,
        name: &'static str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        logs: &[&str],
    ) -> anyhow::Result<()> {
        let out_path = self.path(&format!("{name}.out"));
        let out = std::fs::File::create(&out_path)
            .with_context(|| format!("create {}", out_path.display()))?;
        let err = out.try_clone()?;
        let child = self
            .lab
            .target_cmd(program)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("start {name} ({program})"))?;
        let mut all = vec![out_path];
        all.extend(logs.iter().map(|l| self.path(l)));
        self.daemons.push(Daemon {
            name,
            child,
            logs: all,
        });
        Ok(())
    }

    /// A command run to completion on the host side (key generation,
    /// initdb); its output in the error.
    fn prepare(&self, what: &str, cmd: &mut Command) -> anyhow::Result<()> {
        crate::run(cmd.current_dir(&self.dir)).with_context(|| format!("preparing {what}"))
    }

    fn build(&mut self) -> anyhow::Result<()> {
        mkdir(&self.dir, 0o755)?;
        for sub in ["www", "tls", "empty", "rsync"] {
            mkdir(&self.path(sub), 0o755)?;
        }
        write(
            &self.path("www/index.html"),
            "<html><head><title>vigie lab</title></head><body>vigie lab</body></html>\n",
        )?;
        let d = self.d();
        self.prepare(
            "the TLS certificate (openssl)",
            Command::new("openssl").args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=lab.vigie.test/O=vigie lab",
                "-addext",
                "subjectAltName=DNS:lab.vigie.test,IP:198.18.0.2",
                "-keyout",
                &format!("{d}/tls/key.pem"),
                "-out",
                &format!("{d}/tls/cert.pem"),
            ]),
        )?;
        std::fs::set_permissions(
            self.path("tls/key.pem"),
            std::fs::Permissions::from_mode(0o644),
        )?;

        self.start_own_listeners()?;
        self.openssh()?;
        self.dropbear()?;
        self.vsftpd()?;
        self.exim()?;
        self.dovecot()?;
        self.nginx()?;
        self.apache()?;
        self.lighttpd()?;
        self.postgres()?;
        self.mariadb()?;
        self.redis()?;
        self.memcached()?;
        self.mosquitto()?;
        self.slapd()?;
        self.bind()?;
        self.snmpd()?;
        self.rsync()?;
        self.ngircd()?;
        self.chrony()?;
        self.truth.sort_by_key(|t| (t.proto, t.port));
        self.await_ready()
    }

    /// The silent port (ours: accepts, reads and discards, never writes)
    /// and the closing port (the base lab's accept-and-close listener).
    fn start_own_listeners(&mut self) -> anyhow::Result<()> {
        let listener = in_netns(self.lab.target_ns(), || -> io::Result<TcpListener> {
            let l = TcpListener::bind(("0.0.0.0", SILENT_PORT))?;
            l.set_nonblocking(true)?;
            Ok(l)
        })?
        .context("silent listener in the target namespace")?;
        let stop = Arc::clone(&self.stop);
        self.threads.push(
            thread::Builder::new()
                .name("lab-silent".into())
                .spawn(move || silent_loop(&listener, &stop))?,
        );
        let none = (String::from("vigie-lab"), String::from("-"));
        self.add(
            Proto::Tcp,
            SILENT_PORT,
            None,
            None,
            None,
            None,
            "silent",
            &none,
            Check::Silent,
        );
        self.add(
            Proto::Tcp,
            CLOSING_PORT,
            Some("tcpwrapped"),
            None,
            None,
            None,
            "closing",
            &none,
            Check::Closes,
        );
        Ok(())
    }

    fn openssh(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["openssh-server"])?;
        let d = self.d();
        mkdir(&self.path("sshd"), 0o755)?;
        self.prepare(
            "the sshd host key",
            Command::new("ssh-keygen").args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                &format!("{d}/sshd/host_ed25519"),
            ]),
        )?;
        write(
            &self.path("sshd/sshd_config"),
            &format!(
                "Port 22\nListenAddress 0.0.0.0\nHostKey {d}/sshd/host_ed25519\n\
                 PidFile {d}/sshd/sshd.pid\nUsePAM no\nPermitRootLogin no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 AuthorizedKeysFile none\n"
            ),
        )?;
        // sshd insists on its privilege separation directory (compiled in).
        if !Path::new("/run/sshd").exists() {
            mkdir(Path::new("/run/sshd"), 0o755)?;
        }
        self.spawn(
            "openssh",
            "/usr/sbin/sshd",
            &["-D", "-e", "-f", &format!("{d}/sshd/sshd_config")],
            &[],
            &[],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            22,
            Some("ssh"),
            Some("OpenSSH"),
            Some(v),
            None,
            "openssh",
            &pkg,
            Check::Banner(b"SSH-2.0-OpenSSH_"),
        );
        Ok(())
    }

    fn dropbear(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["dropbear-bin"])?;
        let d = self.d();
        mkdir(&self.path("dropbear"), 0o755)?;
        self.prepare(
            "the dropbear host key",
            Command::new("dropbearkey").args([
                "-t",
                "ed25519",
                "-f",
                &format!("{d}/dropbear/host_ed25519"),
            ]),
        )?;
        self.spawn(
            "dropbear",
            "/usr/sbin/dropbear",
            &[
                "-F",
                "-E",
                "-p",
                "2222",
                "-r",
                &format!("{d}/dropbear/host_ed25519"),
                "-P",
                &format!("{d}/dropbear/dropbear.pid"),
            ],
            &[],
            &[],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            2222,
            Some("ssh"),
            Some("Dropbear sshd"),
            Some(v),
            None,
            "dropbear",
            &pkg,
            Check::Banner(b"SSH-2.0-dropbear_"),
        );
        Ok(())
    }

    fn vsftpd(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["vsftpd"])?;
        let d = self.d();
        mkdir(&self.path("vsftpd"), 0o755)?;
        write(
            &self.path("vsftpd/vsftpd.conf"),
            &format!(
                "listen=YES\nlisten_ipv6=NO\nlisten_port=21\nbackground=NO\n\
                 anonymous_enable=YES\nftp_username=nobody\nanon_root={d}/empty\n\
                 no_anon_password=YES\nwrite_enable=NO\nlocal_enable=NO\n\
                 secure_chroot_dir={d}/empty\nxferlog_enable=NO\n\
                 vsftpd_log_file={d}/vsftpd/vsftpd.log\nseccomp_sandbox=NO\n"
            ),
        )?;
        self.spawn(
            "vsftpd",
            "/usr/sbin/vsftpd",
            &[&format!("{d}/vsftpd/vsftpd.conf")],
            &[],
            &["vsftpd/vsftpd.log"],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            21,
            Some("ftp"),
            Some("vsftpd"),
            Some(v),
            None,
            "vsftpd",
            &pkg,
            Check::Banner(b"220"),
        );
        Ok(())
    }

    fn exim(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["exim4-daemon-light", "exim4-daemon-heavy"])?;
        let d = self.d();
        mkdir(&self.path("exim/spool"), 0o750)?;
        mkdir(&self.path("exim/log"), 0o750)?;
        chown("Debian-exim:Debian-exim", &self.path("exim"))?;
        write(
            &self.path("exim/exim.conf"),
            &format!(
                "primary_hostname = lab.vigie.test\n\
                 exim_user = Debian-exim\nexim_group = Debian-exim\n\
                 spool_directory = {d}/exim/spool\n\
                 log_file_path = {d}/exim/log/%slog\n\
                 pid_file_path = {d}/exim/exim.pid\n\
                 daemon_smtp_ports = 25\nlocal_interfaces = 0.0.0.0\n\
                 host_lookup =\nrfc1413_hosts =\n\
                 acl_smtp_rcpt = acl_check_rcpt\n\
                 begin acl\nacl_check_rcpt:\n  deny message = relay not permitted\n\
                 begin routers\nbegin transports\n"
            ),
        )?;
        self.spawn(
            "exim",
            "/usr/sbin/exim4",
            &["-bdf", "-C", &format!("{d}/exim/exim.conf")],
            &[],
            &["exim/log/mainlog", "exim/log/paniclog"],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            25,
            Some("smtp"),
            Some("Exim smtpd"),
            Some(v),
            None,
            "exim",
            &pkg,
            Check::Banner(b"220 "),
        );
        Ok(())
    }

    fn dovecot(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["dovecot-imapd"])?;
        let pop = installed_version(&["dovecot-pop3d"])?;
        let d = self.d();
        mkdir(&self.path("dovecot/run"), 0o755)?;
        mkdir(&self.path("dovecot/state"), 0o755)?;
        write(&self.path("dovecot/passwd"), "")?;
        // Debian's default configuration names the package's DH parameters;
        // without them Dovecot offers no DHE and drops nmap's TLS probes.
        std::fs::copy("/usr/share/dovecot/dh.pem", self.path("dovecot/dh.pem"))
            .context("copy /usr/share/dovecot/dh.pem (apt-get install dovecot-core)")?;
        write(
            &self.path("dovecot/dovecot.conf"),
            &format!(
                "base_dir = {d}/dovecot/run\nstate_dir = {d}/dovecot/state\n\
                 log_path = {d}/dovecot/dovecot.log\n\
                 protocols = imap pop3\nlisten = *\n\
                 ssl = yes\nssl_cert = <{d}/tls/cert.pem\nssl_key = <{d}/tls/key.pem\n\
                 ssl_dh = <{d}/dovecot/dh.pem\n\
                 default_internal_user = dovecot\ndefault_login_user = dovenull\n\
                 mail_location = maildir:{d}/dovecot/mail/%u\n\
                 passdb {{\n  driver = passwd-file\n  args = {d}/dovecot/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/dovecot/home/%u\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    port = 143\n  }}\n  \
                 inet_listener imaps {{\n    port = 993\n    ssl = yes\n  }}\n}}\n\
                 service pop3-login {{\n  inet_listener pop3 {{\n    port = 110\n  }}\n  \
                 inet_listener pop3s {{\n    port = 995\n    ssl = yes\n  }}\n}}\n"
            ),
        )?;
        self.spawn(
            "dovecot",
            "/usr/sbin/dovecot",
            &["-F", "-c", &format!("{d}/dovecot/dovecot.conf")],
            &[],
            &["dovecot/dovecot.log"],
        )?;
        let imap = Some("Dovecot imapd");
        let pop3 = Some("Dovecot pop3d");
        let t = Proto::Tcp;
        self.add(
            t,
            143,
            Some("imap"),
            imap,
            None,
            None,
            "dovecot",
            &pkg,
            Check::Banner(b"* OK"),
        );
        self.add(
            t,
            110,
            Some("pop3"),
            pop3,
            None,
            None,
            "dovecot",
            &pop,
            Check::Banner(b"+OK"),
        );
        let tls = Some("ssl");
        self.add(
            t,
            993,
            Some("imap"),
            imap,
            None,
            tls,
            "dovecot",
            &pkg,
            Check::Tls(b"", b"* OK"),
        );
        self.add(
            t,
            995,
            Some("pop3"),
            pop3,
            None,
            tls,
            "dovecot",
            &pop,
            Check::Tls(b"", b"+OK"),
        );
        Ok(())
    }

    fn nginx(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["nginx-light", "nginx-core", "nginx-full", "nginx"])?;
        let d = self.d();
        mkdir(&self.path("nginx/tmp"), 0o755)?;
        let temps: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .iter()
            .fold(String::new(), |mut s, t| {
                let _ = writeln!(s, "  {t}_temp_path {d}/nginx/tmp/{t};");
                s
            });
        write(
            &self.path("nginx/nginx.conf"),
            &format!(
                "daemon off;\nuser www-data;\nworker_processes 1;\n\
                 pid {d}/nginx/nginx.pid;\nerror_log {d}/nginx/error.log;\n\
                 events {{\n  worker_connections 256;\n}}\n\
                 http {{\n  access_log off;\n{temps}\
                 \x20 server {{\n    listen 80;\n    root {d}/www;\n  }}\n\
                 \x20 server {{\n    listen 443 ssl;\n    root {d}/www;\n    \
                 ssl_certificate {d}/tls/cert.pem;\n    ssl_certificate_key {d}/tls/key.pem;\n  }}\n}}\n"
            ),
        )?;
        self.spawn(
            "nginx",
            "/usr/sbin/nginx",
            &[
                "-p",
                &format!("{d}/nginx"),
                "-e",
                &format!("{d}/nginx/error.log"),
                "-c",
                &format!("{d}/nginx/nginx.conf"),
            ],
            &[],
            &["nginx/error.log"],
        )?;
        let v = upstream_version(&pkg.1);
        let t = Proto::Tcp;
        let head = b"HEAD / HTTP/1.0\r\n\r\n";
        self.add(
            t,
            80,
            Some("http"),
            Some("nginx"),
            Some(v.clone()),
            None,
            "nginx",
            &pkg,
            Check::Request(head, b"HTTP/1.1 200"),
        );
        self.add(
            t,
            443,
            Some("http"),
            Some("nginx"),
            Some(v),
            Some("ssl"),
            "nginx",
            &pkg,
            Check::Tls(head, b"HTTP/1.1 200"),
        );
        Ok(())
    }

    fn apache(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["apache2-bin", "apache2"])?;
        let d = self.d();
        mkdir(&self.path("apache"), 0o755)?;
        let m = "/usr/lib/apache2/modules";
        write(
            &self.path("apache/apache2.conf"),
            &format!(
                "ServerRoot \"{d}/apache\"\nServerName lab.vigie.test\nListen 8080\n\
                 PidFile {d}/apache/apache2.pid\nErrorLog {d}/apache/error.log\n\
                 DefaultRuntimeDir {d}/apache\nMutex file:{d}/apache default\n\
                 LoadModule mpm_event_module {m}/mod_mpm_event.so\n\
                 LoadModule authz_core_module {m}/mod_authz_core.so\n\
                 LoadModule dir_module {m}/mod_dir.so\n\
                 User www-data\nGroup www-data\n\
                 DocumentRoot \"{d}/www\"\n<Directory \"{d}/www\">\n  Require all granted\n</Directory>\n"
            ),
        )?;
        self.spawn(
            "apache",
            "/usr/sbin/apache2",
            &["-f", &format!("{d}/apache/apache2.conf"), "-DFOREGROUND"],
            &[],
            &["apache/error.log"],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            8080,
            Some("http"),
            Some("Apache httpd"),
            Some(v),
            None,
            "apache",
            &pkg,
            Check::Request(b"HEAD / HTTP/1.0\r\n\r\n", b"HTTP/1.1 200"),
        );
        Ok(())
    }

    fn lighttpd(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["lighttpd"])?;
        let d = self.d();
        mkdir(&self.path("lighttpd"), 0o755)?;
        write(
            &self.path("lighttpd/lighttpd.conf"),
            &format!(
                "server.port = 8081\nserver.bind = \"0.0.0.0\"\n\
                 server.document-root = \"{d}/www\"\n\
                 server.pid-file = \"{d}/lighttpd/lighttpd.pid\"\n\
                 server.errorlog = \"{d}/lighttpd/error.log\"\n\
                 server.username = \"www-data\"\nserver.groupname = \"www-data\"\n\
                 index-file.names = (\"index.html\")\n"
            ),
        )?;
        chown("www-data:www-data", &self.path("lighttpd"))?;
        self.spawn(
            "lighttpd",
            "/usr/sbin/lighttpd",
            &["-D", "-f", &format!("{d}/lighttpd/lighttpd.conf")],
            &[],
            &["lighttpd/error.log"],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            8081,
            Some("http"),
            Some("lighttpd"),
            Some(v),
            None,
            "lighttpd",
            &pkg,
            Check::Request(b"HEAD / HTTP/1.0\r\n\r\n", b"HTTP/1.0 200"),
        );
        Ok(())
    }

    fn postgres(&mut self) -> anyhow::Result<()> {
        let major = postgres_major()?;
        let pkg = installed_version(&[&format!("postgresql-{major}")])?;
        let d = self.d();
        let bin = format!("/usr/lib/postgresql/{major}/bin");
        mkdir(&self.path("pg"), 0o755)?;
        chown("postgres:postgres", &self.path("pg"))?;
        let as_postgres = [
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ];
        self.prepare(
            "the PostgreSQL cluster (initdb)",
            Command::new("setpriv").args(as_postgres).args([
                &format!("{bin}/initdb"),
                "-D",
                &format!("{d}/pg/data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ]),
        )?;
        let program = format!("{bin}/postgres");
        let mut args: Vec<String> = as_postgres.iter().map(|s| (*s).to_owned()).collect();
        args.extend(
            [
                program.as_str(),
                "-D",
                &format!("{d}/pg/data"),
                "-p",
                "5432",
                "-c",
                "listen_addresses=*",
                "-c",
                &format!("unix_socket_directories={d}/pg"),
                "-c",
                "logging_collector=off",
            ]
            .map(str::to_owned),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn("postgresql", "setpriv", &args, &[], &[])?;
        // An SSLRequest: the server answers one byte, 'N' (no TLS here).
        self.add(
            Proto::Tcp,
            5432,
            Some("postgresql"),
            Some("PostgreSQL DB"),
            None,
            None,
            "postgresql",
            &pkg,
            Check::Request(b"\x00\x00\x00\x08\x04\xd2\x16\x2f", b"N"),
        );
        Ok(())
    }

    fn mariadb(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["mariadb-server-core", "mariadb-server"])?;
        let d = self.d();
        mkdir(&self.path("mysql"), 0o755)?;
        chown("mysql:mysql", &self.path("mysql"))?;
        self.prepare(
            "the MariaDB data directory (mariadb-install-db)",
            Command::new("mariadb-install-db").args([
                "--no-defaults",
                "--user=mysql",
                &format!("--datadir={d}/mysql/data"),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]),
        )?;
        self.spawn(
            "mariadb",
            "/usr/sbin/mariadbd",
            &[
                "--no-defaults",
                "--user=mysql",
                &format!("--datadir={d}/mysql/data"),
                &format!("--socket={d}/mysql/mysqld.sock"),
                &format!("--pid-file={d}/mysql/mysqld.pid"),
                &format!("--log-error={d}/mysql/error.log"),
                "--port=3306",
                "--bind-address=0.0.0.0",
                "--skip-name-resolve",
                // Any client gets the handshake (not "host not allowed").
                "--skip-grant-tables",
            ],
            &[],
            &["mysql/error.log"],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            3306,
            Some("mysql"),
            Some("MariaDB"),
            Some(v),
            None,
            "mariadb",
            &pkg,
            Check::Banner(b""),
        );
        Ok(())
    }

    fn redis(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["redis-server"])?;
        let d = self.d();
        mkdir(&self.path("redis"), 0o755)?;
        self.spawn(
            "redis",
            "/usr/bin/redis-server",
            &[
                "--port",
                "7777",
                "--bind",
                "0.0.0.0",
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
                "--dir",
                &format!("{d}/redis"),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            &[],
            &[],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            7777,
            Some("redis"),
            Some("Redis key-value store"),
            Some(v),
            None,
            "redis",
            &pkg,
            Check::Request(b"PING\r\n", b"+PONG"),
        );
        Ok(())
    }

    fn memcached(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["memcached"])?;
        self.spawn(
            "memcached",
            "/usr/bin/memcached",
            &[
                "-u", "memcache", "-p", "11211", "-U", "11211", "-l", "0.0.0.0",
            ],
            &[],
            &[],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            11211,
            Some("memcached"),
            Some("Memcached"),
            Some(v.clone()),
            None,
            "memcached",
            &pkg,
            Check::Request(b"version\r\n", b"VERSION "),
        );
        self.add(
            Proto::Udp,
            11211,
            Some("memcached"),
            Some("Memcached"),
            Some(v),
            None,
            "memcached",
            &pkg,
            Check::Udp(b"\x00\x01\x00\x00\x00\x01\x00\x00version\r\n"),
        );
        Ok(())
    }

    fn mosquitto(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["mosquitto"])?;
        let d = self.d();
        mkdir(&self.path("mosquitto"), 0o755)?;
        write(
            &self.path("mosquitto/mosquitto.conf"),
            "listener 1883 0.0.0.0\nallow_anonymous true\npersistence false\n\
             log_dest stderr\nuser mosquitto\n",
        )?;
        self.spawn(
            "mosquitto",
            "/usr/sbin/mosquitto",
            &["-c", &format!("{d}/mosquitto/mosquitto.conf")],
            &[],
            &[],
        )?;
        // The broker publishes its version under $SYS/broker/version.
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            1883,
            Some("mqtt"),
            Some("Mosquitto"),
            Some(v),
            None,
            "mosquitto",
            &pkg,
            // CONNECT, MQTT 3.1.1, clean session, client id "vigie".
            Check::Request(
                b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x05vigie",
                b"\x20\x02",
            ),
        );
        Ok(())
    }

    fn slapd(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["slapd"])?;
        let d = self.d();
        mkdir(&self.path("slapd/db"), 0o755)?;
        // The schema definitions the package ships (data, not config).
        std::fs::copy(
            "/etc/ldap/schema/core.schema",
            self.path("slapd/core.schema"),
        )
        .context("copy /etc/ldap/schema/core.schema (apt-get install slapd)")?;
        write(
            &self.path("slapd/slapd.conf"),
            &format!(
                "include {d}/slapd/core.schema\n\
                 pidfile {d}/slapd/slapd.pid\nargsfile {d}/slapd/slapd.args\n\
                 modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
                 database mdb\nmaxsize 10485760\nsuffix \"dc=lab,dc=vigie,dc=test\"\n\
                 directory {d}/slapd/db\n"
            ),
        )?;
        self.spawn(
            "slapd",
            "/usr/sbin/slapd",
            &[
                "-d",
                "0",
                "-h",
                "ldap://0.0.0.0:389/",
                "-f",
                &format!("{d}/slapd/slapd.conf"),
            ],
            &[],
            &[],
        )?;
        self.add(
            Proto::Tcp,
            389,
            Some("ldap"),
            Some("OpenLDAP"),
            None,
            None,
            "slapd",
            &pkg,
            // An anonymous bind request (message id 1, LDAPv3).
            Check::Request(
                b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00",
                b"\x30",
            ),
        );
        Ok(())
    }

    fn bind(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["bind9"])?;
        let d = self.d();
        mkdir(&self.path("bind"), 0o755)?;
        write(
            &self.path("bind/named.conf"),
            &format!(
                "options {{\n  directory \"{d}/bind\";\n  pid-file \"{d}/bind/named.pid\";\n  \
                 session-keyfile \"{d}/bind/session.key\";\n  \
                 managed-keys-directory \"{d}/bind\";\n  \
                 bindkeys-file \"{d}/bind/bind.keys\";\n  \
                 listen-on port 53 {{ any; }};\n  listen-on-v6 {{ none; }};\n  \
                 recursion no;\n  dnssec-validation no;\n}};\ncontrols {{ }};\n"
            ),
        )?;
        chown("bind:bind", &self.path("bind"))?;
        self.spawn(
            "bind",
            "/usr/sbin/named",
            &[
                "-g",
                "-4",
                "-u",
                "bind",
                "-c",
                &format!("{d}/bind/named.conf"),
            ],
            &[],
            &[],
        )?;
        let v = upstream_version(&pkg.1);
        let query: &[u8] =
            b"\x00\x1e\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03";
        self.add(
            Proto::Tcp,
            53,
            Some("domain"),
            Some("ISC BIND"),
            Some(v.clone()),
            None,
            "bind",
            &pkg,
            Check::Request(query, b"\x00"),
        );
        self.add(
            Proto::Udp,
            53,
            Some("domain"),
            Some("ISC BIND"),
            Some(v),
            None,
            "bind",
            &pkg,
            Check::Udp(&query[2..]),
        );
        Ok(())
    }

    fn snmpd(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["snmpd"])?;
        let d = self.d();
        mkdir(&self.path("snmpd/persist"), 0o755)?;
        write(
            &self.path("snmpd/snmpd.conf"),
            "agentAddress udp:0.0.0.0:161\nrocommunity public default\n\
             sysLocation vigie lab\nsysContact lab@vigie.test\n",
        )?;
        let persist = format!("{d}/snmpd/persist");
        self.spawn(
            "snmpd",
            "/usr/sbin/snmpd",
            &[
                "-f",
                "-Lo",
                "-C",
                "-c",
                &format!("{d}/snmpd/snmpd.conf"),
                "-p",
                &format!("{d}/snmpd/snmpd.pid"),
            ],
            &[
                ("SNMP_PERSISTENT_DIR", persist.as_str()),
                ("SNMPCONFPATH", &format!("{d}/snmpd")),
                ("MIBS", ""),
            ],
            &[],
        )?;
        self.add(
            Proto::Udp,
            161,
            Some("snmp"),
            Some("net-snmp"),
            None,
            None,
            "snmpd",
            &pkg,
            // SNMPv1 get-request, community public, sysDescr.0.
            Check::Udp(
                b"\x30\x26\x02\x01\x00\x04\x06public\xa0\x19\x02\x01\x01\x02\x01\x00\x02\x01\x00\
                  \x30\x0e\x30\x0c\x06\x08\x2b\x06\x01\x02\x01\x01\x01\x00\x05\x00",
            ),
        );
        Ok(())
    }

    fn rsync(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["rsync"])?;
        let d = self.d();
        write(
            &self.path("rsyncd.conf"),
            &format!(
                "pid file = {d}/rsyncd.pid\nlog file = {d}/rsyncd.log\nuse chroot = no\n\
                 [pub]\n  path = {d}/rsync\n  read only = yes\n"
            ),
        )?;
        self.spawn(
            "rsync",
            "/usr/bin/rsync",
            &[
                "--daemon",
                "--no-detach",
                &format!("--config={d}/rsyncd.conf"),
                "--port=873",
                "--address=0.0.0.0",
            ],
            &[],
            &["rsyncd.log"],
        )?;
        // The greeting carries the protocol version, not the software's.
        self.add(
            Proto::Tcp,
            873,
            Some("rsync"),
            None,
            None,
            None,
            "rsync",
            &pkg,
            Check::Banner(b"@RSYNCD: "),
        );
        Ok(())
    }

    fn ngircd(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["ngircd"])?;
        let d = self.d();
        mkdir(&self.path("ngircd"), 0o755)?;
        write(&self.path("ngircd/motd"), "vigie lab\n")?;
        // No per-address connection limit: ngircd's default (5) refuses one
        // of -sV's parallel connections now and then (its "too many
        // connections" line then answers that probe), a known limit of
        // probing in parallel (docs/usage.md) that would make the
        // differential with nmap's serial probes flaky.
        write(
            &self.path("ngircd/ngircd.conf"),
            &format!(
                "[Global]\nName = irc.lab.vigie.test\nInfo = vigie lab\nPorts = 6667\n\
                 Listen = 0.0.0.0\nPidFile = {d}/ngircd/ngircd.pid\n\
                 MotdFile = {d}/ngircd/motd\nServerUID = irc\nServerGID = irc\n\
                 [Limits]\nMaxConnectionsIP = 0\n\
                 [Options]\nDNS = no\nIdent = no\nPAM = no\n"
            ),
        )?;
        self.spawn(
            "ngircd",
            "/usr/sbin/ngircd",
            &["-n", "-f", &format!("{d}/ngircd/ngircd.conf")],
            &[],
            &[],
        )?;
        let v = upstream_version(&pkg.1);
        self.add(
            Proto::Tcp,
            6667,
            Some("irc"),
            Some("ngircd"),
            Some(v),
            None,
            "ngircd",
            &pkg,
            Check::Request(
                b"NICK vigie\r\nUSER vigie 0 * :vigie\r\n",
                b":irc.lab.vigie.test",
            ),
        );
        Ok(())
    }

    fn chrony(&mut self) -> anyhow::Result<()> {
        let pkg = installed_version(&["chrony"])?;
        let d = self.d();
        mkdir(&self.path("chrony"), 0o755)?;
        write(
            &self.path("chrony/chrony.conf"),
            &format!(
                "port 123\ncmdport 0\nallow all\nlocal stratum 10\n\
                 pidfile {d}/chrony/chronyd.pid\n"
            ),
        )?;
        self.spawn(
            "chrony",
            "/usr/sbin/chronyd",
            &[
                "-d",
                "-x",
                "-u",
                "_chrony",
                "-f",
                &format!("{d}/chrony/chrony.conf"),
            ],
            &[],
            &[],
        )?;
        // NTP reveals its protocol version (v4), not the software.
        self.add(
            Proto::Udp,
            123,
            Some("ntp"),
            None,
            Some("v4".to_owned()),
            None,
            "chrony",
            &pkg,
            // A client request (LI 0, version 4, mode 3).
            Check::Udp(&NTP_REQUEST),
        );
        Ok(())
    }

    /// Wait until every port answers as its [`Check`] says; fail with the
    /// daemon's name and logs otherwise.
    fn await_ready(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        let target = IpAddr::V4(self.lab.target_v4());
        let truth = self.truth.clone();
        for t in &truth {
            let deadline = start + READY_DEADLINE;
            loop {
                let last = self.probe(target, t);
                let ok = match (&last, t.check) {
                    (Ok(_), Check::Silent | Check::Closes) => true,
                    (Ok(bytes), _) => check_answer(t.check, bytes).is_ok(),
                    (Err(_), _) => false,
                };
                if ok {
                    break;
                }
                if let Some(exited) = self.exited(t.daemon) {
                    bail!(
                        "{} ({} {}) exited: {exited}\n{}",
                        t.daemon,
                        t.proto.as_str(),
                        t.port,
                        self.logs(t.daemon)
                    );
                }
                if Instant::now() > deadline {
                    let why = match last {
                        Ok(bytes) => check_answer(t.check, &bytes).unwrap_err().to_string(),
                        Err(e) => format!("{e:#}"),
                    };
                    bail!(
                        "{} does not answer on {} {} within {:?}: {why}\n{}",
                        t.daemon,
                        t.proto.as_str(),
                        t.port,
                        READY_DEADLINE,
                        self.logs(t.daemon)
                    );
                }
                thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    fn exited(&mut self, name: &str) -> Option<String> {
        let d = self.daemons.iter_mut().find(|d| d.name == name)?;
        match d.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    fn logs(&self, name: &str) -> String {
        self.daemons
            .iter()
            .filter(|d| d.name == name)
            .flat_map(|d| d.logs.iter())
            .map(|l| tail(l, 30))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Talk to one ground-truth port from the scanner namespace as its
    /// [`Check`] says, and return what came back (for `Silent`: the bytes
    /// received in 2 s, for `Closes`: the bytes before EOF).
    pub fn probe(&self, target: IpAddr, t: &Truth) -> anyhow::Result<Vec<u8>> {
        let addr = SocketAddr::new(target, t.port);
        if let Check::Tls(request, _) = t.check {
            return self.tls_probe(addr, request);
        }
        let check = t.check;
        in_netns(self.lab.scanner_ns(), move || talk(addr, check))?
    }

    /// `openssl s_client` in the scanner namespace: TLS, then `request`;
    /// whatever the server sends back within 3 s.
    fn tls_probe(&self, addr: SocketAddr, request: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut child = self
            .lab
            .scanner_cmd("timeout")
            .args(["3", "openssl", "s_client", "-quiet", "-connect"])
            .arg(addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("run openssl s_client in the scanner namespace")?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(request);
        }
        let out = child.wait_with_output().context("wait for s_client")?;
        Ok(out.stdout)
    }
}

/// An NTP v4 client request.
const NTP_REQUEST: [u8; 48] = {
    let mut p = [0u8; 48];
    p[0] = 0x23;
    p
};

/// Whether an answer looks like the protocol's (see [`Check`]).
pub fn check_answer(check: Check, bytes: &[u8]) -> anyhow::Result<()> {
    let ok = match check {
        Check::Banner(want) | Check::Request(_, want) => {
            !bytes.is_empty() && bytes.starts_with(want)
        }
        Check::Tls(_, want) => bytes.windows(want.len().max(1)).any(|w| w == want),
        Check::Udp(_) => !bytes.is_empty(),
        Check::Silent | Check::Closes => bytes.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        bail!(
            "unexpected answer for {check:?}: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        )
    }
}

/// One exchange (runs in the scanner namespace).
fn talk(addr: SocketAddr, check: Check) -> anyhow::Result<Vec<u8>> {
    if let Check::Udp(request) = check {
        let sock = UdpSocket::bind("0.0.0.0:0")?;
        sock.set_read_timeout(Some(Duration::from_millis(500)))?;
        let mut buf = vec![0u8; 4096];
        for _ in 0..4 {
            sock.send_to(request, addr)?;
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                if from == addr {
                    buf.truncate(n);
                    return Ok(buf);
                }
            }
        }
        bail!("no UDP answer from {addr}");
    }
    let mut s =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).with_context(|| format!("connect {addr}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    match check {
        Check::Request(request, _) => s.write_all(request)?,
        Check::Silent => {
            // Two full seconds of silence, nothing else.
            let mut buf = [0u8; 64];
            return match s.read(&mut buf) {
                Ok(0) => bail!("{addr}: closed, should stay silent"),
                Ok(n) => Ok(buf[..n].to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    Ok(Vec::new())
                }
                Err(e) => Err(e).context("read"),
            };
        }
        Check::Closes => {
            let mut buf = Vec::new();
            s.read_to_end(&mut buf)
                .with_context(|| format!("{addr}: should close at once"))?;
            return Ok(buf);
        }
        _ => {}
    }
    let mut buf = vec![0u8; 4096];
    let n = s
        .read(&mut buf)
        .with_context(|| format!("read from {addr}"))?;
    buf.truncate(n);
    Ok(buf)
}

/// Accept, hold each connection (reading and discarding) until the peer
/// closes or the lab stops; never write.
fn silent_loop(listener: &TcpListener, stop: &Arc<AtomicBool>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((mut conn, _)) => {
                let stop = Arc::clone(stop);
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                if let Ok(h) =
                    thread::Builder::new()
                        .name("lab-silent-conn".into())
                        .spawn(move || {
                            let mut buf = [0u8; 4096];
                            while !stop.load(Ordering::SeqCst) {
                                match conn.read(&mut buf) {
                                    Ok(0) => return,
                                    Ok(_) => {}
                                    Err(e)
                                        if matches!(
                                            e.kind(),
                                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                        ) => {}
                                    Err(_) => return,
                                }
                            }
                        })
                {
                    conns.push(h);
                }
                conns.retain(|h| !h.is_finished());
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
    for h in conns {
        let _ = h.join();
    }
}

impl Drop for ServiceLab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let ns = self.lab.target_ns().to_owned();
        // SIGTERM to each daemon (the process `ip netns exec` became).
        for d in &self.daemons {
            kill_in_ns(&ns, d.child.id(), "-TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for d in &mut self.daemons {
            while Instant::now() < deadline {
                if matches!(d.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        // Whatever is left in the namespace (workers, forks, a daemon that
        // ignored SIGTERM): SIGKILL.
        for pid in netns_pids(&ns) {
            kill_in_ns(&ns, pid, "-KILL");
        }
        for d in &mut self.daemons {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !netns_pids(&ns).is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("vigie-lab: could not remove {}: {e}", self.dir.display());
        }
    }
}

impl std::fmt::Debug for ServiceLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceLab")
            .field("lab", &self.lab)
            .field("dir", &self.dir)
            .field("daemons", &self.daemons())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_versions() {
        assert_eq!(upstream_version("1:9.2p1-2+deb12u3"), "9.2p1");
        assert_eq!(upstream_version("5:7.0.15-1~deb12u1"), "7.0.15");
        assert_eq!(upstream_version("2.4.62-1~deb12u2"), "2.4.62");
        assert_eq!(upstream_version("1:2.3.19.1+dfsg1-2.1+deb12u1"), "2.3.19.1");
        assert_eq!(upstream_version("3.0.3-13+b2"), "3.0.3");
        assert_eq!(upstream_version("1.4.69-1"), "1.4.69");
        assert_eq!(upstream_version("26.1"), "26.1");
    }

    #[test]
    fn version_matching() {
        let t = |v: Option<&str>| Truth {
            proto: Proto::Tcp,
            port: 1,
            name: None,
            product: None,
            version: v.map(str::to_owned),
            tunnel: None,
            daemon: "x",
            package: String::new(),
            installed: String::new(),
            check: Check::Silent,
        };
        assert!(t(Some("9.2p1")).version_matches(Some("9.2p1 Debian 2+deb12u3")));
        assert!(t(Some("9.18.49")).version_matches(Some("9.18.49-1~deb12u1-Debian")));
        assert!(t(Some("1.6.18")).version_matches(Some("1.6.18")));
        assert!(!t(Some("1.6.1")).version_matches(Some("1.6.18")));
        assert!(!t(Some("2.4")).version_matches(Some("2.4.62")));
        assert!(!t(Some("10.11.6")).version_matches(Some("5.5.5-10.11.6-MariaDB")));
        assert!(t(None).version_matches(None));
        assert!(!t(None).version_matches(Some("1.0")));
        assert!(!t(Some("1.0")).version_matches(None));
    }

    #[test]
    fn answers() {
        assert!(check_answer(Check::Banner(b"SSH-2.0-"), b"SSH-2.0-OpenSSH_9.2p1\r\n").is_ok());
        assert!(check_answer(Check::Banner(b"220"), b"").is_err());
        assert!(check_answer(Check::Tls(b"", b"* OK"), b"x\n* OK ready").is_ok());
        assert!(check_answer(Check::Silent, b"").is_ok());
        assert!(check_answer(Check::Silent, b"hi").is_err());
    }
}
