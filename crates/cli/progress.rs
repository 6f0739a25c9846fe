//! Progress while a scan runs, read from the engine's progress board:
//! a bar on stderr when it is a terminal (indicatif), and with
//! `--stats-every T` a plain nmap-like line on stderr every T, terminal or
//! not. Nothing at all when stderr is not a terminal and no `--stats-every`.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chrono::{Local, NaiveDateTime};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigie_engine::progress::{Progress, Snapshot, PING_SCAN};

/// How often the bar is redrawn.
const BAR_TICK: Duration = Duration::from_millis(100);
/// How often the display looks for the end of a phase, at most.
const PHASE_TICK: Duration = Duration::from_millis(200);

/// `h:mm:ss`, as nmap writes durations.
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `done` of `total` in percent with two decimals, rounded down, so that
/// 100.00% means finished.
pub fn percent(done: u64, total: u64) -> String {
    if total == 0 {
        return "100.00".into();
    }
    let bp = u128::from(done.min(total)) * 10_000 / u128::from(total);
    format!("{}.{:02}", bp / 100, bp % 100)
}

/// Events per second over `elapsed` (0 before any time passed).
pub fn per_second(count: u64, elapsed: Duration) -> u64 {
    let us = elapsed.as_micros();
    if us == 0 {
        return 0;
    }
    (u128::from(count) * 1_000_000 / us) as u64
}

/// Time left at the rate so far; `None` until something is done.
pub fn remaining(done: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if done == 0 {
        return None;
    }
    let left = u128::from(total.saturating_sub(done));
    let ns = elapsed.as_nanos() * left / u128::from(done);
    Some(Duration::from_nanos(ns.min(u128::from(u64::MAX)) as u64))
}

/// What a phase counts as found: hosts up for a ping sweep, else open ports.
fn found_word(phase: &str) -> &'static str {
    if phase == PING_SCAN {
        "up"
    } else {
        "open"
    }
}

/// One `--stats-every` line: `run` is the time since the run started,
/// `now` the local wall-clock time (for the estimated time of completion).
pub fn stats_line(run: Duration, s: &Snapshot, now: NaiveDateTime) -> String {
    let etc = match remaining(s.done, s.total, s.elapsed) {
        Some(left) => {
            let at = now + chrono::Duration::from_std(left).unwrap_or(chrono::Duration::MAX);
            format!("ETC: {} ({} remaining)", at.format("%H:%M:%S"), hms(left))
        }
        None => "ETC: unknown".into(),
    };
    format!(
        "Stats: {} elapsed; {}: {}% done ({}/{} probes), {} sent, {} pps, {} {}; {}",
        hms(run),
        s.phase,
        percent(s.done, s.total),
        s.done,
        s.total,
        s.sent,
        per_second(s.sent, s.elapsed),
        s.found,
        found_word(s.phase),
        etc
    )
}

/// The text after the bar itself.
pub fn bar_message(s: &Snapshot) -> String {
    format!(
        "{} pps, {} {}",
        per_second(s.sent, s.elapsed),
        s.found,
        found_word(s.phase)
    )
}

/// The bar shown on stderr, if any; other code writing to the terminal
/// while it is shown goes through [`suspend`].
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Run `f` (which writes to the terminal) with the bar hidden meanwhile.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// Whether to draw the bar: stderr is a terminal, and no output named `-`
/// writes a report to the same terminal (the report stays unbroken there).
pub fn bar_wanted(report_on_stdout: bool) -> bool {
    io::stderr().is_terminal() && !(report_on_stdout && io::stdout().is_terminal())
}

/// The display thread of one run; [`Display::finish`] (or dropping it)
/// prints the last line and clears the bar.
pub struct Display {
    thread: Option<JoinHandle<()>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
}

impl Display {
    /// Start displaying: the bar if `bar`, a line every `stats_every` if set;
    /// neither: no thread at all.
    pub fn start(board: &Progress, stats_every: Option<Duration>, bar: bool) -> Display {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        if stats_every.is_none() && !bar {
            return Display { thread: None, stop };
        }
        let worker = Worker {
            board: Arc::clone(board),
            started: Instant::now(),
            every: stats_every,
            next_stats: stats_every.map(|t| Instant::now() + t),
            want_bar: bar,
            bar: None,
            bar_seq: 0,
            final_seq: 0,
            last_line: None,
        };
        let stop2 = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("vigie-progress".into())
            .spawn(move || worker.run(&stop2))
            .ok();
        Display { thread, stop }
    }

    /// Stop the thread (it prints the last phase's final line) and clear
    /// the bar, so that what follows on the terminal is clean.
    pub fn finish(&mut self) {
        {
            let (lock, cv) = &*self.stop;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.finish();
    }
}

struct Worker {
    board: Progress,
    started: Instant,
    every: Option<Duration>,
    next_stats: Option<Instant>,
    want_bar: bool,
    /// Drawn from the first phase on.
    bar: Option<ProgressBar>,
    /// The phase the bar shows.
    bar_seq: u64,
    /// The last phase whose final line was printed.
    final_seq: u64,
    /// (phase, done, sent, found) of the last line printed.
    last_line: Option<(u64, u64, u64, u64)>,
}

impl Worker {
    fn run(mut self, stop: &(Mutex<bool>, Condvar)) {
        let tick = match (self.want_bar, self.every) {
            (true, _) => BAR_TICK,
            (false, Some(t)) => t.min(PHASE_TICK),
            (false, None) => PHASE_TICK,
        };
        let (lock, cv) = stop;
        loop {
            self.tick(Instant::now());
            let stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
            if *stopped {
                break;
            }
            let (stopped, _) = cv
                .wait_timeout(stopped, tick)
                .unwrap_or_else(|e| e.into_inner());
            if *stopped {
                drop(stopped);
                // The run is over: the last phase's final line.
                self.tick(Instant::now());
                break;
            }
        }
        if let Some(b) = self.bar.take() {
            *BAR.lock().unwrap_or_else(|e| e.into_inner()) = None;
            b.finish_and_clear();
        }
    }

    fn tick(&mut self, now: Instant) {
        let board = Arc::clone(&self.board);
        // Phases that ended: their final lines, once.
        for f in board.finished_after(self.final_seq) {
            self.final_seq = f.seq;
            // Unless the last periodic line said the same already.
            if self.every.is_some() && self.last_line != Some(key(&f)) {
                self.print(&f);
            }
            if let Some(b) = &self.bar {
                if f.seq == self.bar_seq {
                    b.set_message(bar_message(&f));
                    b.set_position(f.done);
                }
            }
        }
        let Some(s) = board.snapshot() else { return };
        if self.want_bar && s.seq != self.bar_seq {
            // A bar per phase.
            self.bar_seq = s.seq;
            if let Some(old) = self.bar.take() {
                old.finish_and_clear();
            }
            self.bar = Some(new_bar(&s));
        } else if let Some(b) = &self.bar {
            if s.running {
                b.set_message(bar_message(&s));
                b.set_position(s.done);
            }
        }
        if let (Some(every), Some(next)) = (self.every, self.next_stats) {
            if now >= next {
                // The next line one period on (skipping periods missed).
                let mut n = next + every;
                while n <= now {
                    n += every;
                }
                self.next_stats = Some(n);
                if s.running && s.seq > self.final_seq {
                    self.print(&s);
                }
            }
        }
    }

    fn print(&mut self, s: &Snapshot) {
        self.last_line = Some(key(s));
        let line = stats_line(self.started.elapsed(), s, Local::now().naive_local());
        let write = || {
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "{line}");
        };
        match &self.bar {
            Some(b) => b.suspend(write),
            None => write(),
        }
    }
}

/// The bar of a phase, on stderr, as wide as the terminal; [`suspend`]
/// knows it. Drawn only once set up.
fn new_bar(s: &Snapshot) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(s.total), ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template(
        "{prefix} [{wide_bar}] {pos}/{len} ({percent}%) {msg}, ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    b.set_style(style);
    b.set_prefix(s.phase);
    b.set_message(bar_message(s));
    b.set_position(s.done);
    b.set_draw_target(ProgressDrawTarget::stderr());
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(b.clone());
    b
}

fn key(s: &Snapshot) -> (u64, u64, u64, u64) {
    (s.seq, s.done, s.sent, s.found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn snap(done: u64, total: u64, sent: u64, found: u64, elapsed_ms: u64) -> Snapshot {
        Snapshot {
            seq: 1,
            phase: "SYN Stealth Scan",
            total,
            done,
            sent,
            found,
            elapsed: Duration::from_millis(elapsed_ms),
            running: true,
        }
    }

    #[test]
    fn durations_as_nmap_writes_them() {
        assert_eq!(hms(Duration::ZERO), "0:00:00");
        assert_eq!(hms(Duration::from_millis(5_999)), "0:00:05");
        assert_eq!(hms(Duration::from_secs(3_599)), "0:59:59");
        assert_eq!(hms(Duration::from_secs(3_600 + 61)), "1:01:01");
        assert_eq!(hms(Duration::from_secs(100 * 3_600)), "100:00:00");
    }

    #[test]
    fn percentages_round_down() {
        assert_eq!(percent(27_589, 65_535), "42.09");
        assert_eq!(percent(0, 65_535), "0.00");
        assert_eq!(percent(65_534, 65_535), "99.99");
        assert_eq!(percent(65_535, 65_535), "100.00");
        assert_eq!(percent(1, 3), "33.33");
        assert_eq!(percent(0, 0), "100.00");
        // Never above 100, even on inconsistent counters.
        assert_eq!(percent(7, 5), "100.00");
        assert_eq!(percent(u64::MAX - 1, u64::MAX), "99.99");
    }

    #[test]
    fn rates_and_time_left() {
        assert_eq!(per_second(150_000, Duration::from_secs(1)), 150_000);
        assert_eq!(per_second(812_345, Duration::from_millis(5_000)), 162_469);
        assert_eq!(per_second(10, Duration::ZERO), 0);
        assert_eq!(per_second(1, Duration::from_secs(3)), 0);
        assert_eq!(remaining(0, 100, Duration::from_secs(9)), None);
        assert_eq!(
            remaining(25, 100, Duration::from_secs(10)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            remaining(100, 100, Duration::from_secs(10)),
            Some(Duration::ZERO)
        );
        assert_eq!(
            remaining(1, 3, Duration::from_millis(500)),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn a_stats_line() {
        let now = NaiveDate::from_ymd_opt(2024, 5, 1)
            .unwrap()
            .and_hms_opt(7, 54, 55)
            .unwrap();
        let s = snap(27_589, 65_535, 812_345, 7, 5_000);
        assert_eq!(
            stats_line(Duration::from_millis(5_400), &s, now),
            "Stats: 0:00:05 elapsed; SYN Stealth Scan: 42.09% done (27589/65535 probes), \
             812345 sent, 162469 pps, 7 open; ETC: 07:55:01 (0:00:06 remaining)"
        );
        let s = Snapshot {
            phase: PING_SCAN,
            ..snap(0, 256, 64, 0, 10)
        };
        assert_eq!(
            stats_line(Duration::from_secs(3_700), &s, now),
            "Stats: 1:01:40 elapsed; Ping Scan: 0.00% done (0/256 probes), 64 sent, \
             6400 pps, 0 up; ETC: unknown"
        );
        let s = snap(10, 10, 12, 2, 2_000);
        assert_eq!(
            stats_line(Duration::from_secs(2), &s, now),
            "Stats: 0:00:02 elapsed; SYN Stealth Scan: 100.00% done (10/10 probes), 12 sent, \
             6 pps, 2 open; ETC: 07:54:55 (0:00:00 remaining)"
        );
        assert_eq!(bar_message(&s), "6 pps, 2 open");
    }
}
