//! The process' figures from `/proc/self` (Linux), read at scrape time: resident and virtual
//! memory, open and maximum file descriptors, CPU seconds, threads and start time. A file
//! that cannot be read leaves its figures out (`None`) rather than reporting zeros.

use std::fs;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessFigures {
    pub resident_memory_bytes: Option<f64>,
    pub virtual_memory_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub cpu_seconds: Option<f64>,
    pub threads: Option<f64>,
    pub start_time_seconds: Option<f64>,
}

/// Reads this process' figures now.
pub fn read() -> ProcessFigures {
    let ticks_per_sec = sysconf(libc::_SC_CLK_TCK).unwrap_or(100.0);
    let page_bytes = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096.0);
    let boot_time = fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| boot_time_secs(&s));
    let mut figures = fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| from_stat(&stat, ticks_per_sec, page_bytes, boot_time))
        .unwrap_or_default();
    figures.open_fds = fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as f64);
    figures.max_fds = fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| max_open_files(&limits));
    figures
}

fn sysconf(name: libc::c_int) -> Option<f64> {
    // SAFETY: sysconf takes no pointers and only reads the configuration value asked for.
    let value = unsafe { libc::sysconf(name) };
    (value > 0).then_some(value as f64)
}

/// Figures from `/proc/self/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its last `)`.
pub fn from_stat(
    stat: &str,
    ticks_per_sec: f64,
    page_bytes: f64,
    boot_time: Option<f64>,
) -> Option<ProcessFigures> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields from the 3rd (state) on; the 14th overall is index 11 here.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let cpu_ticks = field(14)? + field(15)?;
    let start_secs = field(22).map(|ticks| ticks / ticks_per_sec);
    Some(ProcessFigures {
        cpu_seconds: Some(cpu_ticks / ticks_per_sec),
        threads: field(20),
        virtual_memory_bytes: field(23),
        resident_memory_bytes: field(24).map(|pages| pages * page_bytes),
        start_time_seconds: boot_time.zip(start_secs).map(|(boot, start)| boot + start),
        ..ProcessFigures::default()
    })
}

/// `btime` of `/proc/stat`: when the machine booted, in seconds since the epoch.
pub fn boot_time_secs(proc_stat: &str) -> Option<f64> {
    let line = proc_stat.lines().find(|l| l.starts_with("btime "))?;
    line["btime ".len()..].trim().parse().ok()
}

/// The soft limit of "Max open files" in `/proc/self/limits`.
pub fn max_open_files(limits: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with a space and a parenthesis must not shift the fields.
        let stat = "42 (con cord) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 \
                    123456789 2048 18446744073709551615";
        let figures = from_stat(stat, 100.0, 4096.0, Some(1_000.0)).unwrap();
        assert_eq!(figures.cpu_seconds, Some(3.0));
        assert_eq!(figures.threads, Some(7.0));
        assert_eq!(figures.virtual_memory_bytes, Some(123_456_789.0));
        assert_eq!(figures.resident_memory_bytes, Some(2048.0 * 4096.0));
        assert_eq!(figures.start_time_seconds, Some(1_010.0));
    }

    #[test]
    fn limits_and_boot_time_are_found_by_their_labels() {
        let limits = "Limit Soft Limit Hard Limit Units\nMax open files 65536 524288 files\n";
        assert_eq!(max_open_files(limits), Some(65_536.0));
        assert_eq!(boot_time_secs("cpu 1 2\nbtime 1700000000\n"), Some(1.7e9));
    }

    #[test]
    fn this_process_has_memory_threads_and_descriptors() {
        let figures = read();
        assert!(
            figures.resident_memory_bytes.unwrap_or(0.0) > 0.0,
            "{figures:?}"
        );
        assert!(figures.open_fds.unwrap_or(0.0) >= 1.0, "{figures:?}");
        assert!(figures.threads.unwrap_or(0.0) >= 1.0, "{figures:?}");
    }
}
