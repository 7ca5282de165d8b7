//! CPU time and peak memory of a process and its descendants, from Linux's `/proc`.

use std::collections::BTreeSet;
use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat`'s times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const TICKS_PER_SEC: u64 = 100;

/// A reading of a process tree.
#[derive(Debug, Default, Clone, Copy)]
pub struct Usage {
    /// User + system CPU time.
    pub cpu: Duration,
    /// Sum of each process's peak resident set size (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
}

/// `pid`'s fields after the command name: state is index 0, ppid 1, utime 11, stime 12.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// `root` and every process descended from it.
fn tree(root: u32) -> BTreeSet<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok())) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = BTreeSet::from([root]);
    loop {
        let before = found.len();
        for (pid, ppid) in &parents {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

fn cpu(pid: u32) -> Duration {
    let ticks: u64 = stat_fields(pid)
        .map(|fields| [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 1000 / TICKS_PER_SEC)
}

/// Reads the CPU time and peak RSS of `pid` and its descendants.
pub fn usage(pid: u32) -> Usage {
    let mut usage = Usage::default();
    for pid in tree(pid) {
        usage.cpu += cpu(pid);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let hwm = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        usage.peak_rss_kib += hwm.unwrap_or(0);
    }
    usage
}

/// CPU time of this process alone (the driver and the provider), without its children.
pub fn own_cpu() -> Duration {
    cpu(std::process::id())
}
