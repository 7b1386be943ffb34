//! [`Metered`]: the subscriber store with each call that may wait (on a
//! store worker) timed and its failures counted. The in-memory fast paths
//! ([`Hss::try_vector`], [`Hss::try_current`]) pass through untimed: they run
//! on the socket workers for nearly every request.

use super::{Metrics, StoreCall};
use crate::hss::{AccountingLog, AccountingRecord, Hss, HssError, Imsi, VectorKind};
use eap::umts::{AuthVector, Auts, Sqn};
use std::sync::Arc;
use std::time::Instant;

/// A store whose calls are timed into [`Metrics`].
pub struct Metered<S> {
    inner: Arc<S>,
    metrics: Arc<Metrics>,
}

impl<S> Metered<S> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<S>, metrics: Arc<Metrics>) -> Self {
        Metered { inner, metrics }
    }

    fn timed<T>(
        &self,
        call: StoreCall,
        f: impl FnOnce() -> Result<T, HssError>,
    ) -> Result<T, HssError> {
        let t = Instant::now();
        let r = f();
        self.metrics.store_call(call, t.elapsed(), r.is_err());
        r
    }
}

impl<S: Hss> Hss for Metered<S> {
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.timed(StoreCall::Vector, || self.inner.vector(imsi, kind))
    }

    fn vector_versioned(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        self.timed(StoreCall::Vector, || {
            self.inner.vector_versioned(imsi, kind)
        })
    }

    fn current(&self, imsi: &Imsi, version: u64) -> Result<bool, HssError> {
        self.timed(StoreCall::Current, || self.inner.current(imsi, version))
    }

    fn try_current(&self, imsi: &Imsi, version: u64) -> Option<Result<bool, HssError>> {
        self.inner.try_current(imsi, version)
    }

    fn try_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Option<Result<(AuthVector, u64), HssError>> {
        self.inner.try_vector(imsi, kind)
    }

    /// Timed as one `vector` call: the barring check is part of it.
    fn authorized_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        self.timed(StoreCall::Vector, || {
            self.inner.authorized_vector(imsi, kind)
        })
    }

    /// Timed as one `current` call (the authorization read is part of it);
    /// a failure of either counts.
    fn confirm(
        &self,
        imsi: &Imsi,
        version: u64,
    ) -> (
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    ) {
        let t = Instant::now();
        let (a, current) = self.inner.confirm(imsi, version);
        let failed =
            current.is_err() || matches!(&a, Err(e) if !matches!(e, HssError::Unsupported(_)));
        self.metrics
            .store_call(StoreCall::Current, t.elapsed(), failed);
        (a, current)
    }

    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        self.timed(StoreCall::Resync, || self.inner.resync(imsi, rand, auts))
    }

    fn authorization(&self, imsi: &Imsi) -> Result<crate::authz::Authorization, HssError> {
        self.timed(StoreCall::Authorization, || self.inner.authorization(imsi))
    }

    fn try_authorization(
        &self,
        imsi: &Imsi,
    ) -> Option<Result<crate::authz::Authorization, HssError>> {
        self.inner.try_authorization(imsi)
    }

    fn try_confirm(
        &self,
        imsi: &Imsi,
        version: u64,
        now: std::time::Instant,
    ) -> Option<(
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    )> {
        self.inner.try_confirm(imsi, version, now)
    }

    fn triplets(&self, imsi: &Imsi, n: usize) -> Result<(Vec<crate::hss::Triplet>, u64), HssError> {
        self.timed(StoreCall::Triplets, || self.inner.triplets(imsi, n))
    }
}

impl<S: AccountingLog> AccountingLog for Metered<S> {
    fn record(&self, rec: &AccountingRecord) -> Result<(), HssError> {
        self.timed(StoreCall::Accounting, || self.inner.record(rec))
    }
}
