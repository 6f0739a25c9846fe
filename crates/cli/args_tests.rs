use super::*;

fn run(args: &[&str]) -> Result<Command, ArgError> {
    let mut v = vec![OsString::from("vigie")];
    v.extend(args.iter().map(OsString::from));
    parse(v)
}

/// Parses a scan command line (a target is appended).
fn opts(args: &[&str]) -> Options {
    let mut v = args.to_vec();
    v.push("127.0.0.1");
    match run(&v) {
        Ok(Command::Scan(o)) => o,
        other => panic!("{args:?}: expected a scan, got {other:?}"),
    }
}

fn fail(args: &[&str]) -> String {
    match run(args) {
        Err(e) => e.0,
        Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
    }
}

#[test]
fn minimal_line_gives_defaults() {
    let o = opts(&[]);
    assert_eq!(
        o,
        Options {
            targets: vec!["127.0.0.1".into()],
            argv: vec!["127.0.0.1".into()],
            args_line: "vigie 127.0.0.1".into(),
            ..Options::default()
        }
    );
}

#[test]
fn every_flag_at_once() {
    let o = opts(&[
        "-sS",
        "-p22,80",
        "--top-ports",
        "10",
        "-F",
        "-iL",
        "list.txt",
        "--exclude",
        "198.18.0.5,198.18.0.6",
        "--exclude",
        "198.18.0.7",
        "--excludefile",
        "ex.txt",
        "-6",
        "-n",
        "-R",
        "-Pn",
        "-T4",
        "--min-rate",
        "100",
        "--max-rate",
        "2500.5",
        "--max-retries",
        "3",
        "--host-timeout",
        "30s",
        "--initial-rtt-timeout",
        "1s",
        "--min-rtt-timeout",
        "100ms",
        "--max-rtt-timeout",
        "2s",
        "-oN",
        "a.nmap",
        "-oX",
        "a.xml",
        "-oG",
        "a.gnmap",
        "-oJ",
        "a.jsonl",
        "-oA",
        "base",
        "-vv",
        "--reason",
        "--open",
        "--seed",
        "42",
        "--servicedb",
        "svc.txt",
        "--exclude-ports",
        "25,U:53",
    ]);
    let expected = Options {
        technique: Some(Technique::Syn),
        udp: false,
        scanflags: None,
        ping_only: false,
        ping_echo: false,
        ping_timestamp: false,
        ping_mask: false,
        ping_syn: None,
        ping_ack: None,
        ping_udp: None,
        ping_arp: false,
        disable_arp_ping: false,
        send_ip: false,
        evasion: Default::default(),
        block_probes: None,
        tx_threads: None,
        shard: None,
        rate: None,
        stats_every: None,
        db: None,
        no_history: false,
        ports: Some("22,80".into()),
        fast: true,
        top_ports: Some(10),
        exclude_ports: Some("25,U:53".into()),
        targets: vec!["127.0.0.1".into()],
        input_list: Some(PathBuf::from("list.txt")),
        exclude: vec!["198.18.0.5,198.18.0.6".into(), "198.18.0.7".into()],
        exclude_file: Some(PathBuf::from("ex.txt")),
        ipv6: true,
        no_dns: true,
        always_dns: true,
        no_ping: true,
        timing: Some(4),
        min_rate: Some(100.0),
        max_rate: Some(2500.5),
        max_retries: Some(3),
        host_timeout: Some(Duration::from_secs(30)),
        initial_rtt_timeout: Some(Duration::from_secs(1)),
        min_rtt_timeout: Some(Duration::from_millis(100)),
        max_rtt_timeout: Some(Duration::from_secs(2)),
        out_normal: Some("a.nmap".into()),
        out_xml: Some("a.xml".into()),
        out_grep: Some("a.gnmap".into()),
        out_json: Some("a.jsonl".into()),
        out_all: Some("base".into()),
        verbose: 2,
        debug: 0,
        packet_trace: false,
        reason: true,
        open: true,
        seed: Some(42),
        servicedb: Some(PathBuf::from("svc.txt")),
        version: false,
        version_intensity: None,
        versiondb: None,
        version_timeout: None,
        version_trace: false,
        argv: o.argv.clone(),
        args_line: "vigie -sS -p22,80 --top-ports 10 -F -iL list.txt --exclude \
                    198.18.0.5,198.18.0.6 --exclude 198.18.0.7 --excludefile ex.txt -6 -n -R \
                    -Pn -T4 --min-rate 100 --max-rate 2500.5 --max-retries 3 --host-timeout \
                    30s --initial-rtt-timeout 1s --min-rtt-timeout 100ms --max-rtt-timeout 2s \
                    -oN a.nmap -oX a.xml -oG a.gnmap -oJ a.jsonl -oA base -vv --reason --open \
                    --seed 42 --servicedb svc.txt --exclude-ports 25,U:53 127.0.0.1"
            .into(),
    };
    assert_eq!(o, expected);
}

#[test]
fn scan_types() {
    assert_eq!(opts(&["-sS"]).technique, Some(Technique::Syn));
    assert_eq!(opts(&["-sT"]).technique, Some(Technique::Connect));
    assert_eq!(opts(&["-sT", "-sT"]).technique, Some(Technique::Connect));
    assert_eq!(opts(&[]).technique, None);
    for t in Technique::ALL.into_iter().filter(|t| *t != Technique::Udp) {
        let flag = t.flag();
        assert_eq!(opts(&[flag]).technique, Some(t), "{flag}");
    }
    let both = opts(&["-sU", "-sF"]);
    assert_eq!((both.technique, both.udp), (Some(Technique::Fin), true));
    let udp = opts(&["-sU"]);
    assert_eq!((udp.technique, udp.udp), (None, true));
    let msg =
        "only one TCP scan type at a time (-sS, -sT given); one TCP type may be combined with -sU";
    assert_eq!(fail(&["-sS", "-sT", "127.0.0.1"]), msg);
    assert_eq!(fail(&["-sT", "127.0.0.1", "-sS"]), msg);
    assert_eq!(
        fail(&["-sF", "-sX", "-sA", "127.0.0.1"]),
        "only one TCP scan type at a time (-sF, -sX, -sA given); one TCP type may be combined with -sU"
    );
    assert_eq!(
        fail(&["-sn", "-sS", "127.0.0.1"]),
        "-sn (host discovery only) cannot be combined with a port scan type"
    );
}

#[test]
fn scanflags() {
    assert_eq!(opts(&["--scanflags", "SYNFIN"]).scanflags, Some(0x003));
    assert_eq!(opts(&["--scanflags=urgpshfin"]).scanflags, Some(0x029));
    assert_eq!(
        opts(&["-scanflags", "ACKURG", "-sA"]).scanflags,
        Some(0x030)
    );
    assert_eq!(opts(&["--scanflags", "18"]).scanflags, Some(18));
    assert_eq!(opts(&["--scanflags", "0x1ff"]).scanflags, Some(0x1ff));
    assert_eq!(opts(&["--scanflags", "0"]).scanflags, Some(0));
    assert_eq!(opts(&["--scanflags", "ECECWRNS"]).scanflags, Some(0x1c0));
    for bad in ["SYNFOO", "512", "0x200", "S", "-1"] {
        let msg = fail(&["--scanflags", bad, "127.0.0.1"]);
        assert!(msg.starts_with("invalid value"), "{bad}: {msg}");
        assert!(msg.contains("SYNFIN"), "{bad}: {msg}");
    }
    assert_eq!(
        fail(&["--scanflags", "SYN", "-sT", "127.0.0.1"]),
        "--scanflags needs a raw TCP scan type; -sT lets the kernel choose the flags"
    );
}

#[test]
fn discovery_and_engine_flags() {
    let o = opts(&[
        "-sn",
        "-PE",
        "-PP",
        "-PM",
        "-PS",
        "-PA22,443",
        "-PU53",
        "-PR",
        "--disable-arp-ping",
    ]);
    assert!(
        o.ping_only
            && o.ping_echo
            && o.ping_timestamp
            && o.ping_mask
            && o.ping_arp
            && o.disable_arp_ping
    );
    assert_eq!(o.ping_syn.as_deref(), Some("80"));
    assert_eq!(o.ping_ack.as_deref(), Some("22,443"));
    assert_eq!(o.ping_udp.as_deref(), Some("53"));
    assert_eq!(opts(&["-PU"]).ping_udp.as_deref(), Some("40125"));
    let o = opts(&["--shard", "1/4", "--rate", "5000", "--stats-every", "2s"]);
    assert_eq!(o.shard, Some((1, 4)));
    assert_eq!(o.rate, Some(5000.0));
    assert_eq!(o.stats_every, Some(Duration::from_secs(2)));
    for bad in ["4/4", "1/0", "x/2", "1", "-1/2"] {
        assert!(
            fail(&["--shard", bad, "127.0.0.1"]).contains("expected i/N"),
            "{bad}"
        );
    }
    assert_eq!(
        fail(&["--rate", "10", "--max-rate", "20", "127.0.0.1"]),
        "--rate sets a fixed rate; it cannot be combined with --min-rate or --max-rate"
    );
}

#[test]
fn unknown_options() {
    assert_eq!(
        fail(&["-sZ", "127.0.0.1"]),
        "unknown option '-sZ' (see vigie --help)"
    );
    assert_eq!(
        fail(&["--bogus", "127.0.0.1"]),
        "unknown option '--bogus' (see vigie --help)"
    );
    assert_eq!(
        fail(&["--bogus=1", "127.0.0.1"]),
        "unknown option '--bogus' (see vigie --help)"
    );
    assert_eq!(fail(&["-x"]), "unknown option '-x' (see vigie --help)");
    assert_eq!(fail(&["-vx"]), "unknown option '-vx' (see vigie --help)");
    assert_eq!(
        fail(&["-iLfile"]),
        "unknown option '-iLfile' (see vigie --help)"
    );
    // The single-dash spellings do not take two dashes.
    assert_eq!(
        fail(&["--sS", "127.0.0.1"]),
        "unknown option '--sS' (did you mean -sS?)"
    );
    assert_eq!(
        fail(&["--p", "22"]),
        "unknown option '--p' (did you mean -p?)"
    );
    // clap's own names are not ours.
    assert_eq!(
        fail(&["--syn"]),
        "unknown option '--syn' (see vigie --help)"
    );
    assert_eq!(
        fail(&["--ports=22"]),
        "unknown option '--ports' (see vigie --help)"
    );
}

#[test]
fn ports_spellings() {
    assert_eq!(opts(&["-p22"]).ports.as_deref(), Some("22"));
    assert_eq!(opts(&["-p", "22"]).ports.as_deref(), Some("22"));
    assert_eq!(opts(&["-p-"]).ports.as_deref(), Some("-"));
    assert_eq!(opts(&["-p", "-"]).ports.as_deref(), Some("-"));
    assert_eq!(
        opts(&["-p", "1-1024,U:53"]).ports.as_deref(),
        Some("1-1024,U:53")
    );
    assert_eq!(opts(&["-p-1024"]).ports.as_deref(), Some("-1024"));
    // The value is taken as it is, even when it looks like an option.
    assert_eq!(opts(&["-p", "-sS"]).ports.as_deref(), Some("-sS"));
    // Port syntax is not checked here.
    assert_eq!(opts(&["-p", "70000"]).ports.as_deref(), Some("70000"));
    // The last one wins, as in nmap.
    assert_eq!(opts(&["-p", "22", "-p80"]).ports.as_deref(), Some("80"));
    assert_eq!(fail(&["127.0.0.1", "-p"]), "option '-p' needs a value");
    assert_eq!(
        fail(&["-p", "", "127.0.0.1"]),
        "option '-p' needs a value, not an empty string"
    );
}

#[test]
fn fast_and_top_ports() {
    assert!(opts(&["-F"]).fast);
    assert!(!opts(&[]).fast);
    assert_eq!(opts(&["--top-ports", "100"]).top_ports, Some(100));
    assert_eq!(opts(&["--top-ports=100"]).top_ports, Some(100));
    assert_eq!(opts(&["-top-ports", "7"]).top_ports, Some(7));
    assert_eq!(opts(&["-top-ports=65535"]).top_ports, Some(65535));
    assert_eq!(
        fail(&["--top-ports", "0", "127.0.0.1"]),
        "invalid value '0' for '--top-ports': must be at least 1"
    );
    assert_eq!(
        fail(&["--top-ports", "ten", "127.0.0.1"]),
        "invalid value 'ten' for '--top-ports': expected a whole number"
    );
    assert_eq!(
        fail(&["--top-ports", "-5", "127.0.0.1"]),
        "invalid value '-5' for '--top-ports': expected a whole number"
    );
    assert_eq!(
        fail(&["127.0.0.1", "--top-ports"]),
        "option '--top-ports' needs a value"
    );
    assert_eq!(
        fail(&["--top-ports=", "127.0.0.1"]),
        "option '--top-ports' needs a value, not an empty string"
    );
}

#[test]
fn target_options() {
    let o = opts(&["198.18.0.0/24", "fd00::1"]);
    assert_eq!(o.targets, ["198.18.0.0/24", "fd00::1", "127.0.0.1"]);
    let o = opts(&["--", "-odd-name"]);
    assert_eq!(o.targets, ["-odd-name", "127.0.0.1"]);

    match run(&["-iL", "targets.txt"]) {
        Ok(Command::Scan(o)) => {
            assert_eq!(o.input_list, Some(PathBuf::from("targets.txt")));
            assert!(o.targets.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(opts(&["-iL", "-"]).input_list, Some(PathBuf::from("-")));
    assert_eq!(opts(&["--iL=x"]).input_list, Some(PathBuf::from("x")));
    assert_eq!(
        opts(&["--exclude", "a,b", "-exclude=c"]).exclude,
        ["a,b", "c"]
    );
    assert_eq!(
        opts(&["--excludefile", "ex"]).exclude_file,
        Some(PathBuf::from("ex"))
    );
    assert_eq!(
        opts(&["-excludefile=ex2"]).exclude_file,
        Some(PathBuf::from("ex2"))
    );
    assert!(opts(&["-6"]).ipv6);
    assert!(opts(&["-n"]).no_dns);
    assert!(opts(&["-R"]).always_dns);
    assert!(opts(&["-Pn"]).no_ping);
    assert!(opts(&["-PN"]).no_ping);
    let o = opts(&[]);
    assert!(!o.ipv6 && !o.no_dns && !o.always_dns && !o.no_ping);
    assert_eq!(fail(&["-iL"]), "option '-iL' needs a value");
}

#[test]
fn no_targets() {
    assert_eq!(fail(&[]), "no targets given (see vigie --help)");
    assert_eq!(
        fail(&["-sT", "-p", "22", "-n"]),
        "no targets given (see vigie --help)"
    );
    assert_eq!(
        fail(&["--exclude", "127.0.0.1"]),
        "no targets given (see vigie --help)"
    );
}

#[test]
fn timing_templates() {
    for (i, name) in TEMPLATES.iter().enumerate() {
        assert_eq!(opts(&[&format!("-T{i}")]).timing, Some(i as u8));
        assert_eq!(opts(&["-T", &i.to_string()]).timing, Some(i as u8));
        assert_eq!(opts(&[&format!("-T{name}")]).timing, Some(i as u8));
    }
    assert_eq!(opts(&["-TAggressive"]).timing, Some(4));
    assert_eq!(opts(&["-T", "INSANE"]).timing, Some(5));
    assert_eq!(opts(&[]).timing, None);
    let msg = "expected 0 to 5 or paranoid|sneaky|polite|normal|aggressive|insane";
    assert_eq!(
        fail(&["-T9", "127.0.0.1"]),
        format!("invalid value '9' for '-T': {msg}")
    );
    assert_eq!(
        fail(&["-T6", "127.0.0.1"]),
        format!("invalid value '6' for '-T': {msg}")
    );
    assert_eq!(
        fail(&["-Tfast", "127.0.0.1"]),
        format!("invalid value 'fast' for '-T': {msg}")
    );
    assert_eq!(fail(&["127.0.0.1", "-T"]), "option '-T' needs a value");
}

#[test]
fn rates() {
    let o = opts(&["--min-rate", "1000", "--max-rate=1e4"]);
    assert_eq!((o.min_rate, o.max_rate), (Some(1000.0), Some(10000.0)));
    assert_eq!(opts(&["--min-rate", "0.5"]).min_rate, Some(0.5));
    let o = opts(&["--min-rate", "50", "--max-rate", "50"]);
    assert_eq!((o.min_rate, o.max_rate), (Some(50.0), Some(50.0)));
    assert_eq!(
        fail(&["--max-rate", "0", "127.0.0.1"]),
        "invalid value '0' for '--max-rate': must be greater than 0"
    );
    assert_eq!(
        fail(&["--min-rate", "-3", "127.0.0.1"]),
        "invalid value '-3' for '--min-rate': must be greater than 0"
    );
    assert_eq!(
        fail(&["--min-rate", "inf", "127.0.0.1"]),
        "invalid value 'inf' for '--min-rate': expected a number of packets per second"
    );
    assert_eq!(
        fail(&["--max-rate", "fast", "127.0.0.1"]),
        "invalid value 'fast' for '--max-rate': expected a number of packets per second"
    );
    assert_eq!(
        fail(&["--min-rate", "2000", "--max-rate", "1000", "127.0.0.1"]),
        "--min-rate (2000) is greater than --max-rate (1000)"
    );
}

#[test]
fn retries_and_seed() {
    assert_eq!(opts(&["--max-retries", "0"]).max_retries, Some(0));
    assert_eq!(opts(&["--max-retries=10"]).max_retries, Some(10));
    assert_eq!(
        fail(&["--max-retries", "-1", "127.0.0.1"]),
        "invalid value '-1' for '--max-retries': expected a whole number"
    );
    assert_eq!(
        opts(&["--seed", "18446744073709551615"]).seed,
        Some(u64::MAX)
    );
    assert_eq!(opts(&["-seed", "0"]).seed, Some(0));
    assert_eq!(
        fail(&["--seed", "18446744073709551616", "127.0.0.1"]),
        "invalid value '18446744073709551616' for '--seed': \
         expected a whole number from 0 to 18446744073709551615"
    );
}

#[test]
fn time_options() {
    let o = opts(&[
        "--host-timeout",
        "2m",
        "--initial-rtt-timeout",
        "250ms",
        "--min-rtt-timeout=0.1",
        "-max-rtt-timeout",
        "3",
    ]);
    assert_eq!(o.host_timeout, Some(Duration::from_secs(120)));
    assert_eq!(o.initial_rtt_timeout, Some(Duration::from_millis(250)));
    assert_eq!(o.min_rtt_timeout, Some(Duration::from_millis(100)));
    assert_eq!(o.max_rtt_timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        opts(&["--host-timeout", "0"]).host_timeout,
        Some(Duration::ZERO)
    );
    assert_eq!(
        fail(&["--max-rtt-timeout", "0ms", "127.0.0.1"]),
        "invalid value '0ms' for '--max-rtt-timeout': must be greater than 0"
    );
    assert_eq!(
        fail(&["--host-timeout", "10x", "127.0.0.1"]),
        "invalid value '10x' for '--host-timeout': invalid time '10x' (use e.g. 500ms, 30s, 5m, 2h)"
    );
    assert_eq!(
        fail(&[
            "--min-rtt-timeout",
            "2s",
            "--max-rtt-timeout",
            "1s",
            "127.0.0.1"
        ]),
        "--min-rtt-timeout (2s) is greater than --max-rtt-timeout (1s)"
    );
}

#[test]
fn time_specs() {
    let ok = [
        ("500ms", Duration::from_millis(500)),
        ("30s", Duration::from_secs(30)),
        ("30", Duration::from_secs(30)),
        ("5m", Duration::from_secs(300)),
        ("2h", Duration::from_secs(7200)),
        ("0", Duration::ZERO),
        ("1.5s", Duration::from_millis(1500)),
        ("0.3", Duration::from_millis(300)),
        (".5", Duration::from_millis(500)),
        ("5.", Duration::from_secs(5)),
        ("0.25h", Duration::from_secs(900)),
        ("1.5ms", Duration::from_micros(1500)),
        ("0.0000000019", Duration::from_nanos(1)),
        ("007s", Duration::from_secs(7)),
    ];
    for (s, d) in ok {
        assert_eq!(parse_time(s), Ok(d), "{s}");
    }
    for s in [
        "",
        ".",
        "s",
        "ms",
        "abc",
        "5x",
        "5 s",
        "-1",
        "+1",
        "1.2.3",
        "1e3",
        "5S",
        "5sec",
        "99999999999999999999999999999999999999999h",
    ] {
        assert_eq!(
            parse_time(s),
            Err(ArgError(format!(
                "invalid time '{s}' (use e.g. 500ms, 30s, 5m, 2h)"
            ))),
            "{s}"
        );
    }
}

#[test]
fn outputs() {
    let o = opts(&[
        "-oN", "n.txt", "-oXx.xml", "-oG-", "-oJ", "j.jsonl", "-oAbase",
    ]);
    assert_eq!(o.out_normal.as_deref(), Some("n.txt"));
    assert_eq!(o.out_xml.as_deref(), Some("x.xml"));
    assert_eq!(o.out_grep.as_deref(), Some("-"));
    assert_eq!(o.out_json.as_deref(), Some("j.jsonl"));
    assert_eq!(o.out_all.as_deref(), Some("base"));
    assert_eq!(opts(&["-oX", "-"]).out_xml.as_deref(), Some("-"));
    assert_eq!(fail(&["127.0.0.1", "-oX"]), "option '-oX' needs a value");
    assert_eq!(
        fail(&["-oZ", "f", "127.0.0.1"]),
        "unknown option '-oZ' (see vigie --help)"
    );
    assert!(opts(&["--reason"]).reason);
    assert!(opts(&["-reason"]).reason);
    assert!(opts(&["--open"]).open);
    assert!(opts(&["-open"]).open);
    assert_eq!(fail(&["--open=yes"]), "option '--open' takes no value");
    assert_eq!(
        opts(&["--servicedb", "s"]).servicedb,
        Some(PathBuf::from("s"))
    );
}

#[test]
fn verbosity_levels() {
    let cases: [(&[&str], u8); 8] = [
        (&[], 0),
        (&["-v"], 1),
        (&["-vv"], 2),
        (&["-vvv"], 3),
        (&["-v3"], 3),
        (&["-v", "-v"], 2),
        (&["-vv", "-v2"], 4),
        (&["-v99999999999"], 255),
    ];
    for (args, level) in cases {
        assert_eq!(opts(args).verbose, level, "{args:?}");
    }
}

#[test]
fn help_and_version() {
    for h in ["-h", "--help", "-help"] {
        assert_eq!(run(&[h]), Ok(Command::Help(HELP.to_string())));
    }
    // Help needs no target and wins over the other options.
    assert_eq!(
        run(&["-sS", "-p", "22", "-h"]),
        Ok(Command::Help(HELP.to_string()))
    );
    let version = format!("vigie {}\n", env!("CARGO_PKG_VERSION"));
    for v in ["-V", "--version"] {
        assert_eq!(run(&[v]), Ok(Command::Version(version.clone())));
    }
    // Parse errors still come first.
    assert_eq!(
        fail(&["--bogus", "-h"]),
        "unknown option '--bogus' (see vigie --help)"
    );
}

#[test]
fn help_lists_every_flag_and_safe_examples() {
    for flag in [
        "-iL",
        "--exclude ",
        "--excludefile",
        "-Pn",
        "-n:",
        "-R:",
        "-6:",
        "-p ",
        "-F:",
        "--top-ports",
        "--servicedb",
        "-sS",
        "-sT",
        "-sF:",
        "-sN:",
        "-sX:",
        "-sU:",
        "-PS[ports]",
        "--packet-trace",
        "-d:",
        "--generate <kind>",
        "-sA:",
        "-sW:",
        "-sM:",
        "--scanflags",
        "-T <0-5>",
        "--min-rate",
        "--max-rate",
        "--max-retries",
        "--host-timeout",
        "--initial-rtt-timeout",
        "--min-rtt-timeout",
        "--max-rtt-timeout",
        "-oN",
        "-oX",
        "-oG",
        "-oJ",
        "-oA",
        "-v:",
        "--reason",
        "--open",
        "--seed",
        "-h, --help",
        "-V, --version",
    ] {
        assert!(HELP.contains(flag), "HELP lacks {flag}");
    }
    for section in [
        "TARGET SPECIFICATION:",
        "HOST DISCOVERY:",
        "PORT SPECIFICATION:",
        "SCAN TECHNIQUES:",
        "TIMING:",
        "OUTPUT:",
        "MISC:",
        "EXAMPLES:",
    ] {
        assert_eq!(
            HELP.lines().filter(|l| *l == section).count(),
            1,
            "{section}"
        );
    }
    let examples: Vec<&str> = HELP
        .lines()
        .skip_while(|l| *l != "EXAMPLES:")
        .filter(|l| l.trim_start().starts_with("vigie "))
        .collect();
    assert!(examples.len() >= 2);
    for ex in examples {
        let target = ex.split_whitespace().last().unwrap_or("");
        assert!(
            target == "127.0.0.1" || target.starts_with("198.18.0.") || target.starts_with("fd00:"),
            "unsafe example target in {ex}"
        );
        // Every example parses.
        let args: Vec<&str> = ex.split_whitespace().skip(1).collect();
        assert!(matches!(run(&args), Ok(Command::Scan(_))), "{ex}");
    }
}

#[test]
fn args_line_quotes_what_needs_it() {
    let o = opts(&["-p", "22, 80", "", "-oN", "it's", "a\"b$\\"]);
    assert_eq!(
        o.args_line,
        r#"vigie -p "22, 80" "" -oN "it's" "a\"b\$\\" 127.0.0.1"#
    );
}

#[test]
fn empty_exclude_is_an_error() {
    assert_eq!(
        fail(&["--exclude", "", "127.0.0.1"]),
        "option '--exclude' needs a value, not an empty string"
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_argument() {
    use std::os::unix::ffi::OsStringExt;
    let args = vec![
        OsString::from("vigie"),
        OsString::from_vec(vec![b'1', 0xff]),
    ];
    assert_eq!(
        parse(args),
        Err(ArgError("argument 1\u{fffd} is not valid UTF-8".into()))
    );
}

#[test]
fn error_display_is_the_line() {
    assert_eq!(ArgError("x y".into()).to_string(), "x y");
}

#[test]
fn typos_get_the_closest_flag() {
    for (typed, want) in [
        ("--top-port", "--top-ports"),
        ("--top-portss", "--top-ports"),
        ("-top-port", "--top-ports"),
        ("--reasn", "--reason"),
        ("--max-rtt-timout", "--max-rtt-timeout"),
        ("--packet-trac", "--packet-trace"),
        ("--exludefile", "--excludefile"),
        ("-pn", "-Pn"),
        ("--sT", "-sT"),
    ] {
        assert_eq!(
            fail(&[typed, "1", "127.0.0.1"]),
            format!("unknown option '{typed}' (did you mean {want}?)"),
            "{typed}"
        );
    }
    // `--top-port=10`: the name alone is shown.
    assert_eq!(
        fail(&["--top-port=10", "127.0.0.1"]),
        "unknown option '--top-port' (did you mean --top-ports?)"
    );
    // Nothing close: no guess. Two-letter flags one letter apart are other
    // flags, not typos.
    for typed in ["--bogus", "--syn", "-sZ", "-x", "--frobnicate"] {
        assert_eq!(
            fail(&[typed, "127.0.0.1"]),
            format!("unknown option '{typed}' (see vigie --help)"),
            "{typed}"
        );
    }
    // Hidden flags are never suggested.
    assert_eq!(TABLE.suggest("--block-probe"), None);
}

#[test]
fn nmap_options_not_here_yet_say_so() {
    for (args, flag, what) in [
        (&["-O"][..], "-O", "OS detection"),
        (&["-sC"], "-sC", "the default scripts"),
        (&["--script", "vuln"], "--script", "NSE scripts"),
        (&["--script=vuln"], "--script", "NSE scripts"),
        (&["-sO"], "-sO", "IP protocol scan"),
        (&["-sY"], "-sY", "SCTP INIT scan"),
        (&["-b", "relay"], "-b", "FTP bounce scan"),
        (&["-sC"], "-sC", "the default scripts"),
        (&["--traceroute"], "--traceroute", "traceroute"),
        (&["-PY22"], "-PY", "SCTP INIT ping"),
        (
            &["--dns-servers", "198.18.0.53"],
            "--dns-servers",
            "reverse DNS through these servers",
        ),
    ] {
        let mut v = args.to_vec();
        v.push("127.0.0.1");
        assert_eq!(
            fail(&v),
            format!("{flag} ({what}) is an nmap option that vigie does not have yet"),
            "{args:?}"
        );
    }
    // A typo of a listed flag is not taken for a glued pending one.
    assert_eq!(
        fail(&["-exlude", "198.18.0.1", "127.0.0.1"]),
        "unknown option '-exlude' (did you mean --exclude?)"
    );
}

#[test]
fn debug_and_packet_trace() {
    let o = opts(&["-d"]);
    assert_eq!((o.debug, o.packet_trace), (1, false));
    assert_eq!(opts(&["-dd"]).debug, 2);
    assert_eq!(opts(&["-d3"]).debug, 3);
    assert_eq!(opts(&["-d", "-d"]).debug, 2);
    assert_eq!(opts(&[]).debug, 0);
    assert!(opts(&["--packet-trace"]).packet_trace);
    assert!(opts(&["-packet-trace"]).packet_trace);
    assert_eq!(
        fail(&["--packet-trace=1"]),
        "option '--packet-trace' takes no value"
    );
    assert_eq!(fail(&["-dx"]), "unknown option '-dx' (see vigie --help)");
}

#[test]
fn generate_kinds() {
    for (g, word) in Generate::ALL {
        assert_eq!(run(&["--generate", word]), Ok(Command::Generate(g)));
    }
    assert!(fail(&["--generate", "html"]).starts_with("invalid value 'html' for '--generate'"));
}

#[test]
fn resume_stands_alone() {
    assert_eq!(
        run(&["--resume", "r.json"]),
        Ok(Command::Resume(PathBuf::from("r.json")))
    );
    assert_eq!(
        run(&["--resume=r.json"]),
        Ok(Command::Resume(PathBuf::from("r.json")))
    );
    let msg = "--resume takes no other option or target: the scan's own are in the file";
    assert_eq!(fail(&["--resume", "r.json", "-sS"]), msg);
    assert_eq!(fail(&["--resume", "r.json", "127.0.0.1"]), msg);
    assert_eq!(fail(&["--resume"]), "option '--resume' needs a value");
}

#[test]
fn argv_is_kept_for_resume_files() {
    let o = opts(&["-p", "22", "-sS"]);
    assert_eq!(o.argv, ["-p", "22", "-sS", "127.0.0.1"]);
}

#[test]
fn merge_arguments() {
    let m = |a: &[&str]| {
        let v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        parse_merge(&v)
    };
    let o = m(&["-oX", "m.xml", "a", "-oJ-", "b"]).unwrap();
    assert_eq!(
        o.outs,
        vec![
            (MergeOut::Xml, "m.xml".into()),
            (MergeOut::Json, "-".into())
        ]
    );
    assert_eq!(o.files, ["a", "b"]);
    let o = m(&["--", "-oX"]).unwrap();
    assert!(o.outs.is_empty());
    assert_eq!(o.files, ["-oX"]);
    assert_eq!(m(&[]), Err(ArgError(MERGE_USAGE.into())));
    assert_eq!(
        m(&["-oX"]),
        Err(ArgError("option '-oX' needs a value".into()))
    );
    assert_eq!(m(&["-oX", "m.xml"]), Err(ArgError(MERGE_USAGE.into())));
    assert_eq!(
        m(&["-x", "a"]),
        Err(ArgError(
            "unknown option '-x' (see vigie merge --help)".into()
        ))
    );
    assert!(m(&["--help"]).unwrap().help);
    let help = merge_help();
    for f in [
        "-oX <file>",
        "-oJ <file>",
        "-oN <file>",
        "-oG <file>",
        "-h, --help",
    ] {
        assert!(help.contains(f), "{f}: {help}");
    }
}

#[test]
fn the_table_is_consistent() {
    // No spelling twice, every spelling dashed as its kind says.
    let mut seen = std::collections::HashSet::new();
    for f in SCAN {
        for s in f.spell {
            assert!(seen.insert(s.text()), "{} twice", s.text());
            let t = s.text();
            match s {
                Spell::Long(_) => assert!(t.starts_with("--") && t.len() > 3, "{t}"),
                _ => assert!(t.starts_with('-') && !t.starts_with("--"), "{t}"),
            }
        }
        assert!(f.section < SECTIONS.len());
        assert!(!f.help.is_empty(), "{}", f.name());
    }
    // Every technique has its flag in the table.
    for t in Technique::ALL {
        assert!(seen.contains(t.flag()), "{t:?}");
    }
}

#[test]
fn help_fits_in_80_columns() {
    for line in HELP.lines() {
        assert!(line.chars().count() <= 80, "too long: {line}");
    }
    for line in merge_help().lines() {
        assert!(line.chars().count() <= 80, "too long: {line}");
    }
    for line in diff_help().lines() {
        assert!(line.chars().count() <= 80, "too long: {line}");
    }
}

#[test]
fn diff_arguments() {
    let d = |a: &[&str]| {
        let v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        parse_diff(&v)
    };
    let o = d(&["-v", "a.xml", "-oJ-", "b.jsonl", "-oX", "d.xml"]).unwrap();
    assert!(o.verbose);
    assert_eq!(o.json.as_deref(), Some("-"));
    assert_eq!(o.xml.as_deref(), Some("d.xml"));
    assert_eq!(o.inputs, ["a.xml", "b.jsonl"]);
    let o = d(&["a", "b"]).unwrap();
    assert!(!o.verbose && o.xml.is_none() && o.json.is_none());
    // None, one or two words (stored scans fill in the rest); not three.
    assert!(d(&[]).unwrap().inputs.is_empty());
    assert_eq!(d(&["-v", "-oX", "x", "12"]).unwrap().inputs, ["12"]);
    assert_eq!(
        d(&["--db", "sqlite:h.db", "3", "4"]).unwrap().db.as_deref(),
        Some("sqlite:h.db")
    );
    for many in [&["a", "b", "c"][..], &["-v", "1", "2", "3"]] {
        assert_eq!(d(many), Err(ArgError(DIFF_USAGE.into())), "{many:?}");
    }
    assert_eq!(
        d(&["a", "b", "-oJ"]),
        Err(ArgError("option '-oJ' needs a value".into()))
    );
    assert_eq!(
        d(&["-x", "a", "b"]),
        Err(ArgError(
            "unknown option '-x' (see vigie diff --help)".into()
        ))
    );
    assert!(d(&["--help"]).unwrap().help);
    let help = diff_help();
    for f in [
        "-v",
        "-oX <file>",
        "-oJ <file>",
        "-h, --help",
        "Exit status",
    ] {
        assert!(help.contains(f), "{f}: {help}");
    }
}

#[test]
fn version_detection_flags() {
    let o = opts(&["-sV"]);
    assert!(o.version && o.version_intensity.is_none());
    assert!(opts(&["-A"]).version);
    assert_eq!(
        opts(&["-sV", "--version-intensity", "3"]).version_intensity,
        Some(3)
    );
    assert_eq!(opts(&["-sV", "--version-light"]).version_intensity, Some(2));
    assert_eq!(opts(&["-sV", "--version-all"]).version_intensity, Some(9));
    assert_eq!(
        opts(&["-sV", "--versiondb", "p.txt"]).versiondb,
        Some(PathBuf::from("p.txt"))
    );
    assert_eq!(
        opts(&["-sV", "--version-timeout", "5s"]).version_timeout,
        Some(Duration::from_secs(5))
    );
    assert!(opts(&["-sV", "--version-trace"]).version_trace);
    assert_eq!(
        fail(&["-sV", "--version-intensity", "10", "127.0.0.1"]),
        "invalid value '10' for '--version-intensity': expected 0 to 9"
    );
}

#[test]
fn watch_flags() {
    let w = |a: &[&str]| parse_watch(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let o = w(&["-i", "v1", "-i", "v2", "-oJ", "a.jsonl", "--syslog"]).unwrap();
    assert_eq!(o.interfaces, ["v1", "v2"]);
    assert_eq!(o.json.as_deref(), Some("a.jsonl"));
    assert!(o.syslog && !o.block);
    let o = w(&[
        "--block",
        "--allow",
        "198.18.0.0/24,fd00::1",
        "--block-for",
        "30m",
    ])
    .unwrap();
    assert!(o.block);
    assert_eq!(o.allow, ["198.18.0.0/24", "fd00::1"]);
    assert_eq!(o.block_for, Some(Duration::from_secs(1800)));
    assert_eq!(
        w(&["--allow", "198.18.0.1"]).unwrap_err().0,
        "--allow and --block-for need --block"
    );
    assert_eq!(
        w(&["198.18.0.2"]).unwrap_err().0,
        "vigie watch takes no targets or other words (got '198.18.0.2')"
    );
    assert!(w(&["--bogus"]).is_err());
    assert!(w(&["--block", "--block-for", "0"]).is_err());
    assert!(w(&["-h"]).unwrap().help);
    assert!(watch_help().contains("--block-for"));
    for line in watch_help().lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

#[test]
fn evasion_options() {
    use crate::args::evasion_args::{Data, DecoyArg, MacArg};
    let o = opts(&[
        "-S",
        "198.18.0.9",
        "-e",
        "v0",
        "-g",
        "53",
        "--ttl",
        "17",
        "--data",
        "0xdead",
        "--badsum",
        "-f",
        "-f",
        "-D",
        "198.18.0.50,ME,RND:2",
        "--spoof-mac",
        "Apple",
    ]);
    let e = &o.evasion;
    assert_eq!(e.source, Some("198.18.0.9".parse().unwrap()));
    assert_eq!(e.iface.as_deref(), Some("v0"));
    assert_eq!((e.source_port, e.ttl, e.badsum), (Some(53), Some(17), true));
    assert_eq!(e.data, Some(Data::Bytes(vec![0xde, 0xad])));
    assert_eq!(e.fragment_size(), Some(16));
    assert_eq!(
        e.decoys,
        [
            DecoyArg::Addr("198.18.0.50".parse().unwrap()),
            DecoyArg::Me,
            DecoyArg::Random(2)
        ]
    );
    assert_eq!(
        e.spoof_mac,
        Some(MacArg {
            prefix: vec![0, 3, 0x93]
        })
    );
    // Glued and long spellings.
    let o = opts(&[
        "-g53",
        "--source-port=54",
        "-ff",
        "--mtu",
        "24",
        "-D198.18.0.50",
    ]);
    assert_eq!(o.evasion.source_port, Some(54));
    assert_eq!(o.evasion.fragment_size(), Some(24));
    assert_eq!(
        opts(&["--data-length", "25"]).evasion.data,
        Some(Data::Random(25))
    );
    assert_eq!(
        opts(&["--data-string", "hi"]).evasion.data,
        Some(Data::Bytes(b"hi".to_vec()))
    );
    assert_eq!(opts(&[]).evasion, Default::default());
}

#[test]
fn evasion_errors_are_one_line() {
    for (args, want) in [
        (&["-g", "0"][..], "invalid value '0' for '-g': expected a port number from 1 to 65535"),
        (&["--ttl", "300"], "invalid value '300' for '--ttl': expected a TTL from 0 to 255"),
        (&["--mtu", "12"], "invalid value '12' for '--mtu': expected a multiple of 8, from 8 to 1496 (bytes of each fragment's payload)"),
        (&["-S", "nowhere"], "invalid value 'nowhere' for '-S': expected an IPv4 or IPv6 address, not \"nowhere\""),
        (&["-D", "ME"], "invalid value 'ME' for '-D': no decoy given (only ME)"),
        (&["--data", "xyz"], "invalid value 'xyz' for '--data': expected an even number of hex digits (e.g. deadbeef, 0xdeadbeef or \\xde\\xad)"),
        (&["--data", "00", "--data-length", "4"], "invalid value '4' for '--data-length': only one of --data, --data-string and --data-length may be given (and --data was)"),
        (&["--spoof-mac", "01:00:5e:00:00:01"], "invalid value '01:00:5e:00:00:01' for '--spoof-mac': 01:00:5e:00:00:01: a multicast MAC address cannot be a source"),
        (&["-sT", "-f"], "-f applies to raw probes; -sT connects through the kernel (use -sS or another raw type)"),
        (&["-sT", "-e", "lo"], "-e applies to raw probes; -sT connects through the kernel (use -sS or another raw type)"),
        (&["-sT", "-D", "198.18.0.50"], "-D applies to raw probes; -sT connects through the kernel (use -sS or another raw type)"),
    ] {
        let mut v = args.to_vec();
        v.push("127.0.0.1");
        assert_eq!(fail(&v), want, "{args:?}");
    }
}
