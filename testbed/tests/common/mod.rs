//! Helpers shared by the load generator and bench smoke tests.

use std::path::PathBuf;

/// Running under CI (`CI=true` or `CI=1`): a missing tool is a failure, not a skip.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A workspace binary in target/<profile>/ — the parent of this test
/// executable's deps/ directory.
pub fn bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()?
    } else {
        deps
    };
    let p = dir.join(name);
    p.is_file().then_some(p)
}
