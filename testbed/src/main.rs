//! Network-namespace testbed: filled by the testbed issue.
fn main() {
    eprintln!("testbed: not built yet (see the testbed issue)");
    std::process::exit(2);
}
