//! Accounting-Requests of proxied realms ([`crate::proxy::acct`]): routed
//! to the proxy lane like Access-Requests; when no home server answers, the
//! NAS gets no Accounting-Response (RFC 2866 §4.1) and retransmits.

use super::{DropReason, EncodeFailed, Head, RadiusServer, Reply, ReplyTo, Step, Work, wire};
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

impl RadiusServer {
    /// [`RadiusServer::finish`] for the Accounting-Response to an
    /// Accounting-Request: without Message-Authenticator. RFC 2866 defines
    /// none, and implementations disagree on how to compute it (FreeRADIUS
    /// with the Authenticator field zeroed, as for Accounting-Request;
    /// RFC 3579 §3.2 style with the Request Authenticator), so radclient
    /// refused ours; only the Response Authenticator
    /// MD5(Code‖Identifier‖Length‖RequestAuth‖Attributes‖Secret) signs it.
    pub(super) fn finish_accounting(
        &self,
        mut resp: wire::Response,
        to: &ReplyTo,
    ) -> Result<Option<Vec<u8>>, EncodeFailed> {
        use md5::{Digest, Md5};
        for ps in &to.proxy_state {
            resp.attr(rfc2865::PROXY_STATE_TYPE, ps);
        }
        let mut bytes = resp.into_bytes().ok_or(EncodeFailed)?;
        if bytes.len() < 38 || bytes[20] != super::crypto::MESSAGE_AUTHENTICATOR {
            return Err(EncodeFailed);
        }
        bytes.drain(20..38);
        let len = u16::try_from(bytes.len()).map_err(|_| EncodeFailed)?;
        bytes[2..4].copy_from_slice(&len.to_be_bytes());
        let mut h = Md5::new();
        h.update(&bytes[..4]);
        h.update(to.authenticator);
        h.update(&bytes[20..]);
        h.update(to.client.client.secret.expose());
        let auth = h.finalize();
        bytes[4..20].copy_from_slice(&auth);
        self.client_metrics(Some(&to.client)).response(bytes[0]);
        Ok(Some(bytes))
    }
}
