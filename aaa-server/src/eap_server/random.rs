//! The random numbers a step draws (State values, IVs, NONCE_S, identity
//! nonces), injected so tests replay byte-exact transcripts.

use super::Reject;

/// A source of random bytes for one step.
pub trait Random {
    /// Fills `out` with random bytes.
    ///
    /// # Errors
    /// [`Reject::Rng`] when the generator fails.
    fn fill(&mut self, out: &mut [u8]) -> Result<(), Reject>;
}

impl dyn Random + '_ {
    /// 16 random bytes.
    pub(crate) fn bytes16(&mut self) -> Result<[u8; 16], Reject> {
        let mut b = [0u8; 16];
        self.fill(&mut b)?;
        Ok(b)
    }
}

/// The OS CSPRNG (read in blocks, [`crate::hss::rng`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), Reject> {
        crate::hss::rng::fill(out).map_err(|_| Reject::Rng)
    }
}
