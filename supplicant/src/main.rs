//! EAP-AKA/AKA' supplicant: filled by the supplicant issue.
fn main() {
    eprintln!("supplicant: not built yet (see the supplicant issue)");
    std::process::exit(2);
}
