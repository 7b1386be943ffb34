//! Random bytes from the OS CSPRNG, read in blocks: one `getrandom` call
//! per [`BLOCK`] bytes per thread instead of one per RAND, State or salt
//! (the syscall showed up at ~4 % of the server's time under load). The
//! bytes are the OS generator's output; each one is handed out once and
//! wiped from the buffer as it is taken.

use std::cell::RefCell;

/// Bytes fetched from the OS per refill.
pub const BLOCK: usize = 4096;

struct Pool {
    buf: [u8; BLOCK],
    /// Bytes before this index are used (and zeroed).
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { buf: [0; BLOCK], used: BLOCK }) };
}

/// Fills `out` with OS randomness.
pub fn fill(out: &mut [u8]) -> Result<(), getrandom::Error> {
    if out.len() > BLOCK / 4 {
        return getrandom::fill(out);
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if BLOCK - p.used < out.len() {
            getrandom::fill(&mut p.buf)?;
            p.used = 0;
        }
        let (start, end) = (p.used, p.used + out.len());
        out.copy_from_slice(&p.buf[start..end]);
        p.buf[start..end].fill(0);
        p.used = end;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_differ_across_refills_and_large_requests_work() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(3 * BLOCK / 16) {
            let mut r = [0u8; 16];
            fill(&mut r).unwrap();
            assert!(seen.insert(r), "a 16-byte value repeated");
        }
        let mut big = vec![0u8; 2 * BLOCK];
        fill(&mut big).unwrap();
        assert!(big.iter().any(|b| *b != 0));
    }
}
