//! `PcscTransport`: a real card (or vpcd's virtual one) through pcscd. The
//! `pcsc` calls block, so the context and card live on their own thread and
//! APDUs travel over a channel.

use super::transport::{CardTransport, TransportError};
use std::ffi::CString;
use std::sync::mpsc;
use std::thread::JoinHandle;

type Request = (Vec<u8>, mpsc::Sender<Result<Vec<u8>, TransportError>>);

/// A card reached through pcscd.
pub struct PcscTransport {
    tx: Option<mpsc::Sender<Request>>,
    worker: Option<JoinHandle<()>>,
    reader: String,
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .finish()
    }
}

fn map_err(e: pcsc::Error) -> TransportError {
    match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => TransportError::NoService,
        other => TransportError::Pcsc(other.to_string()),
    }
}

fn connect(reader: Option<&str>) -> Result<(pcsc::Card, String), TransportError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(map_err)?;
    let readers: Vec<CString> = match ctx.list_readers_owned() {
        Ok(r) => r,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(map_err(e)),
    };
    let names: Vec<String> = readers
        .iter()
        .map(|r| r.to_string_lossy().into_owned())
        .collect();
    let candidates: Vec<&CString> = match reader {
        Some(want) => {
            let exact: Vec<&CString> = readers
                .iter()
                .filter(|r| r.to_string_lossy() == want)
                .collect();
            if exact.is_empty() {
                readers
                    .iter()
                    .filter(|r| r.to_string_lossy().contains(want))
                    .collect()
            } else {
                exact
            }
        }
        None => readers.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(TransportError::NoReader {
            what: match reader {
                Some(w) => format!("no PC/SC reader named {w:?}"),
                None => "no PC/SC reader".into(),
            },
            readers: names,
        });
    }
    let mut last = None;
    for r in candidates {
        match ctx.connect(r, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(card) => return Ok((card, r.to_string_lossy().into_owned())),
            Err(
                pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard | pcsc::Error::UnpoweredCard,
            ) => {
                last = Some(TransportError::NoCard {
                    reader: r.to_string_lossy().into_owned(),
                    readers: names.clone(),
                });
            }
            Err(e) => last = Some(map_err(e)),
        }
    }
    Err(last.unwrap_or(TransportError::Closed))
}

impl PcscTransport {
    /// Connects to `reader` (exact name, or a substring of one), or to the
    /// first reader holding a card.
    pub fn connect(reader: Option<&str>) -> Result<Self, TransportError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel::<Request>();
        let want = reader.map(str::to_owned);
        let worker = std::thread::Builder::new()
            .name("pcsc".into())
            .spawn(move || {
                let card = match connect(want.as_deref()) {
                    Ok((card, name)) => {
                        let _ = ready_tx.send(Ok(name));
                        card
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE];
                for (apdu, reply) in rx {
                    let r = card
                        .transmit(&apdu, &mut buf)
                        .map(<[u8]>::to_vec)
                        .map_err(map_err);
                    buf.iter_mut().for_each(|b| *b = 0);
                    let _ = reply.send(r);
                }
                let _ = card.disconnect(pcsc::Disposition::ResetCard);
            })
            .map_err(|e| TransportError::Pcsc(format!("cannot start the PC/SC thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(name)) => Ok(Self {
                tx: Some(tx),
                worker: Some(worker),
                reader: name,
            }),
            Ok(Err(e)) => {
                let _ = worker.join();
                Err(e)
            }
            Err(_) => {
                let _ = worker.join();
                Err(TransportError::Closed)
            }
        }
    }

    /// The reader in use.
    pub fn reader(&self) -> &str {
        &self.reader
    }
}

impl CardTransport for PcscTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let (rtx, rrx) = mpsc::channel();
        self.tx
            .as_ref()
            .ok_or(TransportError::Closed)?
            .send((apdu.to_vec(), rtx))
            .map_err(|_| TransportError::Closed)?;
        rrx.recv().map_err(|_| TransportError::Closed)?
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
