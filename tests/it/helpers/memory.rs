//! The process's memory, from `/proc/self/status` (Linux). A reader that cannot read fails the test:
//! a memory assertion must never pass because there was nothing to measure.

/// One `kB` field of `/proc/self/status` (`VmRSS:`, `VmHWM:`).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_else(|err| {
        panic!(
            "memory is measured from /proc/self/status (Linux only), which cannot be read: {err}"
        )
    });
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .filter(|kib| *kib > 0)
        .unwrap_or_else(|| panic!("/proc/self/status has no usable {field} line"))
}

/// Resident memory now.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}
