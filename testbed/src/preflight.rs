//! Checks before a run: root, and the system tools. Under `CI=true` a
//! missing prerequisite is a failure, never a skip.

use crate::tools;

/// Why a run cannot happen here.
pub fn problems() -> Vec<String> {
    let mut out = Vec::new();
    if !tools::is_root() {
        out.push("not root: network namespaces need CAP_SYS_ADMIN (run as root)".to_owned());
    }
    out.extend(tools::missing_tools().into_iter().map(|e| e.to_string()));
    out
}

/// Whether `CI` is set to a true value.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// For tests: `true` when the environment is ready; `false` (skip, with a
/// message) outside CI; panics with every problem listed under `CI=true`.
pub fn ready_or_skip(test: &str) -> bool {
    let p = problems();
    if p.is_empty() {
        return true;
    }
    if in_ci() {
        panic!(
            "{test}: CI=true and the environment is not ready:\n  {}",
            p.join("\n  ")
        );
    }
    eprintln!("{test}: SKIPPED (not CI): {}", p.join("; "));
    false
}

/// PIDs of live processes whose parent is this process.
pub fn child_pids() -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                // Fields after the ")" of the command: state ppid …
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<i32>().ok())
                    == Some(me)
            })
        })
        .collect()
}
