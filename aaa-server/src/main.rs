//! RADIUS AAA server: filled by the AAA server issue.
fn main() {
    eprintln!("aaa-server: not built yet (see the AAA server issue)");
    std::process::exit(2);
}
