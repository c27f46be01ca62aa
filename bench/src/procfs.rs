//! CPU time and resident memory of a process, read from `/proc` (Linux only).

use std::fs;
use std::io;

use anyhow::{Context as _, anyhow};

/// Clock ticks per second of the `utime`/`stime` fields: Linux's `USER_HZ`, which is
/// 100 on every architecture wren targets (x86_64, arm, aarch64).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds used so far by process `pid`, all threads included.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = read(pid, "stat")?;
    parse_stat_cpu(&stat).ok_or_else(|| anyhow!("unreadable /proc/{pid}/stat: {stat:?}"))
}

/// Resident set size of process `pid` in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = read(pid, "status")?;
    parse_vm_rss(&status).ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// User plus system CPU seconds used so far by this process, all threads included.
pub fn own_cpu_seconds() -> anyhow::Result<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).context("getrusage")?;
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(seconds(usage.user_time()) + seconds(usage.system_time()))
}

/// System-wide TCP state that can spoil a loopback measurement: memory used by
/// all TCP sockets against the kernel's pressure threshold, and counters of
/// packets the kernel dropped or had to retransmit after a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpHealth {
    /// Pages used by TCP sockets (`/proc/net/sockstat`).
    pub mem_pages: u64,
    /// Above this many pages the kernel is under memory pressure (`tcp_mem`, middle value).
    pub pressure_pages: u64,
    /// `TcpExt: TCPTimeouts`: retransmission timeouts so far.
    pub timeouts: u64,
    /// `TcpExt: TCPRcvQDrop` + `TCPAbortOnMemory`: packets dropped or connections
    /// aborted for lack of memory so far.
    pub memory_drops: u64,
}

impl TcpHealth {
    /// Reads the current state (whole machine, not only this process).
    pub fn read() -> anyhow::Result<Self> {
        let sockstat = fs::read_to_string("/proc/net/sockstat")?;
        let tcp_mem = fs::read_to_string("/proc/sys/net/ipv4/tcp_mem")?;
        let netstat = fs::read_to_string("/proc/net/netstat")?;
        let counter = |name: &str| tcp_ext_counter(&netstat, name).unwrap_or(0);
        Ok(Self {
            mem_pages: parse_sockstat_tcp_mem(&sockstat).unwrap_or(0),
            pressure_pages: tcp_mem
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX),
            timeouts: counter("TCPTimeouts"),
            memory_drops: counter("TCPRcvQDrop") + counter("TCPAbortOnMemory"),
        })
    }

    /// Whether TCP memory is at or above the kernel's pressure threshold.
    pub fn under_pressure(&self) -> bool {
        self.mem_pages >= self.pressure_pages
    }
}

/// `mem` of the `TCP:` line of `/proc/net/sockstat`, in pages.
fn parse_sockstat_tcp_mem(sockstat: &str) -> Option<u64> {
    let line = sockstat.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "mem")?;
    words.next()?.parse().ok()
}

/// One `TcpExt:` counter of `/proc/net/netstat` (a line of names, then a line of values).
fn tcp_ext_counter(netstat: &str, name: &str) -> Option<u64> {
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?;
    let values = lines.next()?;
    let index = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(index)?.parse().ok()
}

fn read(pid: u32, file: &str) -> anyhow::Result<String> {
    fs::read_to_string(format!("/proc/{pid}/{file}"))
        .map_err(|e| io::Error::new(e.kind(), format!("/proc/{pid}/{file}: {e}")).into())
}

/// `utime + stime` in seconds from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may hold spaces or `)`, so
/// fields are counted from the last `)`: `utime` and `stime` are fields 14 and 15
/// of proc(5), the 12th and 13th after it.
fn parse_stat_cpu(stat: &str) -> Option<f64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// `VmRSS` in bytes from the text of `/proc/PID/status` (given there in kB).
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next()? {
        "kB" => Some(value * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_counts_fields_after_the_command_name() {
        // A command name with a space and a parenthesis must not shift the fields.
        let stat = "4242 (we ird) prog) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 3 0 \
                    100 1000000 300 18446744073709551615";
        assert_eq!(parse_stat_cpu(stat), Some(3.0));
    }

    #[test]
    fn stat_cpu_rejects_truncated_text() {
        assert_eq!(parse_stat_cpu("4242 (wren) S 1 2 3"), None);
        assert_eq!(parse_stat_cpu("no parenthesis"), None);
    }

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\twren\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(5120 * 1024));
        assert_eq!(parse_vm_rss("Name:\tkthread\n"), None);
    }

    #[test]
    fn tcp_counters_and_memory_are_read_by_name() {
        let netstat = "TcpExt: SyncookiesSent TCPTimeouts TCPRcvQDrop\nTcpExt: 0 283 7\n\
                       IpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(tcp_ext_counter(netstat, "TCPTimeouts"), Some(283));
        assert_eq!(tcp_ext_counter(netstat, "TCPRcvQDrop"), Some(7));
        assert_eq!(tcp_ext_counter(netstat, "Nope"), None);
        let sockstat =
            "sockets: used 2501\nTCP: inuse 2353 orphan 713 tw 49 alloc 2488 mem 576232\n";
        assert_eq!(parse_sockstat_tcp_mem(sockstat), Some(576_232));
        assert!(TcpHealth::read().is_ok());
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(own_cpu_seconds().unwrap() >= 0.0);
    }
}
