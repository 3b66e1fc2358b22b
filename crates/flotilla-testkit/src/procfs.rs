//! Reading `/proc`: process trees, their resident memory, and command lines.

use std::collections::HashMap;
use std::fs;

/// Resident memory of a process tree: bytes summed over every process, and how many there were.
#[derive(Debug, Clone, Copy)]
pub struct TreeRss {
    pub bytes: u64,
    pub processes: usize,
}

/// Every live pid with its parent pid, read from `/proc/<pid>/stat`.
fn parent_map() -> HashMap<u32, u32> {
    let mut parents = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return parents;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name sits in parentheses and may itself hold spaces or parentheses,
        // so the fields after it are found from the last ')'.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let _state = rest.next();
        if let Some(ppid) = rest.next().and_then(|s| s.parse::<u32>().ok()) {
            parents.insert(pid, ppid);
        }
    }
    parents
}

/// `root` and all its live descendants.
pub fn tree(root: u32) -> Vec<u32> {
    let parents = parent_map();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, &ppid) in &parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    if !parents.contains_key(&root) {
        return out;
    }
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        out.push(pid);
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids.iter().copied());
        }
    }
    out
}

/// A `/proc/<pid>/status` field counted in kB (`"VmRSS:"`, `"VmHWM:"`), in KiB; `None` for
/// kernel threads or processes that just exited.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
}

/// VmRSS of one process in bytes (0 for kernel threads or processes that just exited).
fn vm_rss(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:").map_or(0, |kb| kb * 1024)
}

/// Resident memory summed over `root` and all its descendants.
pub fn tree_rss(root: u32) -> TreeRss {
    let pids = tree(root);
    TreeRss { bytes: pids.iter().map(|&p| vm_rss(p)).sum(), processes: pids.len() }
}

/// Argument vectors of every live process other than this one.
pub fn command_lines() -> Vec<(u32, Vec<String>)> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args = raw
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>();
            (!args.is_empty()).then_some((pid, args))
        })
        .collect()
}

/// User and system CPU time of a process so far (every thread), from
/// `/proc/<pid>/stat`; `None` when unreadable. On a shared machine the CPU a
/// piece of work used says more than its wall time.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command (which may hold spaces) start at the state;
    // utime and stime are the 12th and 13th of them, in clock ticks of 1/100 s.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Whether a process with this pid is alive.
pub fn alive(pid: u32) -> bool {
    fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// The 1-minute load average, as text ("?" when unreadable): the machine is shared.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
