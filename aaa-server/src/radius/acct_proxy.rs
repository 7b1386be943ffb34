//! Accounting-Requests of proxied realms ([`crate::proxy::acct`]): routed
//! to the proxy lane like Access-Requests; when no home server answers, the
//! NAS gets no Accounting-Response (RFC 2866 §4.1) and retransmits.

use super::{DropReason, Head, RadiusServer, Reply, ReplyTo, Step, Work, wire};
use radius::core::rfc2865;

impl RadiusServer {
    /// An Accounting-Request whose realm is proxied: its job for the proxy
    /// lane. `None`: recorded here (a local realm, no realm table, or the
    /// request cannot be forwarded, e.g. too large with our attributes).
    pub(super) fn route_accounting(&self, to: &ReplyTo, req: &wire::Request<'_>) -> Option<Step> {
        let p = self.proxy.load_full()?;
        let i = p.route_accounting(req.first(rfc2865::USER_NAME_TYPE))?;
        let mut token = [0u8; 8];
        let fwd = crate::hss::rng::fill(&mut token)
            .map_err(|_| crate::proxy::ProxyError::Send)
            .and_then(|()| {
                crate::proxy::Forward::accounting(
                    req,
                    i,
                    p.settings().operator_name.as_deref(),
                    token,
                )
            });
        match fwd {
            Ok(f) => {
                p.count_accounting_proxied();
                Some(Step::Later(Work::Proxy(p, f)))
            }
            Err(e) => {
                tracing::warn!(client = %to.client.client.name, reason = %e, "proxy: Accounting-Request not forwardable; recorded here");
                None
            }
        }
    }

    /// No home server answered a proxied Accounting-Request: no answer,
    /// counted and logged; the NAS's retransmission is forwarded afresh.
    pub(super) fn accounting_unanswered(
        &self,
        head: &Head,
        realm: &str,
        e: crate::proxy::ProxyError,
    ) -> Reply {
        tracing::warn!(client = %head.to.client.client.name, realm = %realm, reason = %e, "proxy: Accounting-Request unanswered; no Accounting-Response (the NAS retries)");
        if let Some(p) = self.proxy.load().as_ref() {
            p.count_accounting_unanswered();
        }
        self.cache.abandon(&head.key);
        self.drop(Some(&head.to.client), DropReason::AccountingNotRecorded)
    }
}
