//! Ceremony messages and journal entries, with bounded canonical decoding (SPEC.md §9.3).

use super::{Pk, Sig, V};
use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{EncodeSize, Error as CodecError, RangeCfg, Read, ReadExt as _, Write};
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{
    DealerPrivMsg, DealerPubMsg, PlayerAck, SignedDealerLog,
};
use std::num::NonZeroU32;

/// One dealer's pair of dealings to one player (consensus key, encryption key).
#[derive(Clone, Debug, PartialEq)]
pub struct Dealing {
    pub consensus: (DealerPubMsg<V>, DealerPrivMsg),
    pub encryption: (DealerPubMsg<V>, DealerPrivMsg),
}

/// A dealer's signed logs of both instances.
#[derive(Clone, Debug, PartialEq)]
pub struct DealerLogs {
    pub consensus: SignedDealerLog<V, Pk>,
    pub encryption: SignedDealerLog<V, Pk>,
}

/// The leader's proposal: the dealer logs every member finalizes with.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub logs: Vec<DealerLogs>,
}

/// A ceremony message. Every message carries the round it belongs to; others are ignored.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// dealer → player, private (the channel is encrypted and authenticated).
    Deal(Box<Dealing>),
    /// player → dealer: acknowledgements of the dealings that verified (`None`: complaint).
    Ack {
        consensus: Option<PlayerAck<Pk>>,
        encryption: Option<PlayerAck<Pk>>,
    },
    /// dealer → all: its signed logs (acks, or reveals for players that did not ack).
    Log(Box<DealerLogs>),
    /// leader → all.
    Propose(Box<Proposal>),
    /// player → all: signature over the proposal digest.
    Echo { digest: [u8; 32], sig: Sig },
    /// member → all once it finalized: a quorum of echoes on `digest` (a certificate), with
    /// the proposal for peers not known to hold it.
    Commit {
        digest: [u8; 32],
        proposal: Option<Proposal>,
        echoes: Vec<(u32, Sig)>,
    },
    /// player → all after finalizing a fresh DKG: `x_i·G1` of its encryption share.
    Public([u8; 48]),
    /// a restarted member asks peers to send again what they sent it.
    Resync,
}

/// What the journal records (SPEC.md §9.5): inputs that changed the state, and own decisions.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Received { from: Pk, msg: Msg },
    Decided(Msg),
}

const DEAL: u8 = 0;
const ACK: u8 = 1;
const LOG: u8 = 2;
const PROPOSE: u8 = 3;
const ECHO: u8 = 4;
const COMMIT: u8 = 5;
const PUBLIC: u8 = 6;
const RESYNC: u8 = 7;

impl Write for DealerLogs {
    fn write(&self, buf: &mut impl BufMut) {
        self.consensus.write(buf);
        self.encryption.write(buf);
    }
}
impl EncodeSize for DealerLogs {
    fn encode_size(&self) -> usize {
        self.consensus.encode_size() + self.encryption.encode_size()
    }
}
impl Read for DealerLogs {
    type Cfg = NonZeroU32;
    fn read_cfg(buf: &mut impl Buf, max: &NonZeroU32) -> Result<Self, CodecError> {
        Ok(Self {
            consensus: SignedDealerLog::read_cfg(buf, max)?,
            encryption: SignedDealerLog::read_cfg(buf, max)?,
        })
    }
}

impl Write for Proposal {
    fn write(&self, buf: &mut impl BufMut) {
        self.logs.write(buf);
    }
}
impl EncodeSize for Proposal {
    fn encode_size(&self) -> usize {
        self.logs.encode_size()
    }
}
impl Read for Proposal {
    type Cfg = NonZeroU32;
    fn read_cfg(buf: &mut impl Buf, max: &NonZeroU32) -> Result<Self, CodecError> {
        let range = RangeCfg::from(0..=max.get() as usize);
        Ok(Self {
            logs: Vec::<DealerLogs>::read_cfg(buf, &(range, *max))?,
        })
    }
}

impl Write for Msg {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Msg::Deal(d) => {
                DEAL.write(buf);
                d.consensus.0.write(buf);
                d.consensus.1.write(buf);
                d.encryption.0.write(buf);
                d.encryption.1.write(buf);
            }
            Msg::Ack {
                consensus,
                encryption,
            } => {
                ACK.write(buf);
                consensus.write(buf);
                encryption.write(buf);
            }
            Msg::Log(l) => {
                LOG.write(buf);
                l.write(buf);
            }
            Msg::Propose(p) => {
                PROPOSE.write(buf);
                p.write(buf);
            }
            Msg::Echo { digest, sig } => {
                ECHO.write(buf);
                digest.write(buf);
                sig.write(buf);
            }
            Msg::Commit {
                digest,
                proposal,
                echoes,
            } => {
                COMMIT.write(buf);
                digest.write(buf);
                proposal.write(buf);
                echoes.write(buf);
            }
            Msg::Public(p) => {
                PUBLIC.write(buf);
                p.write(buf);
            }
            Msg::Resync => RESYNC.write(buf),
        }
    }
}

impl EncodeSize for Msg {
    fn encode_size(&self) -> usize {
        1 + match self {
            Msg::Deal(d) => {
                d.consensus.0.encode_size()
                    + d.consensus.1.encode_size()
                    + d.encryption.0.encode_size()
                    + d.encryption.1.encode_size()
            }
            Msg::Ack {
                consensus,
                encryption,
            } => consensus.encode_size() + encryption.encode_size(),
            Msg::Log(l) => l.encode_size(),
            Msg::Propose(p) => p.encode_size(),
            Msg::Echo { digest, sig } => digest.encode_size() + sig.encode_size(),
            Msg::Commit {
                digest,
                proposal,
                echoes,
            } => digest.encode_size() + proposal.encode_size() + echoes.encode_size(),
            Msg::Public(p) => p.encode_size(),
            Msg::Resync => 0,
        }
    }
}

impl Read for Msg {
    /// The largest participant count accepted (bounds every length).
    type Cfg = NonZeroU32;
    fn read_cfg(buf: &mut impl Buf, max: &NonZeroU32) -> Result<Self, CodecError> {
        Ok(match u8::read(buf)? {
            DEAL => Msg::Deal(Box::new(Dealing {
                consensus: (DealerPubMsg::read_cfg(buf, max)?, DealerPrivMsg::read(buf)?),
                encryption: (DealerPubMsg::read_cfg(buf, max)?, DealerPrivMsg::read(buf)?),
            })),
            ACK => Msg::Ack {
                consensus: Option::<PlayerAck<Pk>>::read(buf)?,
                encryption: Option::<PlayerAck<Pk>>::read(buf)?,
            },
            LOG => Msg::Log(Box::new(DealerLogs::read_cfg(buf, max)?)),
            PROPOSE => Msg::Propose(Box::new(Proposal::read_cfg(buf, max)?)),
            ECHO => Msg::Echo {
                digest: <[u8; 32]>::read(buf)?,
                sig: Sig::read(buf)?,
            },
            COMMIT => Msg::Commit {
                digest: <[u8; 32]>::read(buf)?,
                proposal: Option::<Proposal>::read_cfg(buf, max)?,
                echoes: Vec::<(u32, Sig)>::read_cfg(
                    buf,
                    &(RangeCfg::from(0..=max.get() as usize), ((), ())),
                )?,
            },
            PUBLIC => Msg::Public(<[u8; 48]>::read(buf)?),
            RESYNC => Msg::Resync,
            t => return Err(CodecError::InvalidEnum(t)),
        })
    }
}

impl Write for Entry {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Entry::Received { from, msg } => {
                0u8.write(buf);
                from.write(buf);
                msg.write(buf);
            }
            Entry::Decided(msg) => {
                1u8.write(buf);
                msg.write(buf);
            }
        }
    }
}
impl EncodeSize for Entry {
    fn encode_size(&self) -> usize {
        1 + match self {
            Entry::Received { from, msg } => from.encode_size() + msg.encode_size(),
            Entry::Decided(msg) => msg.encode_size(),
        }
    }
}
impl Read for Entry {
    type Cfg = NonZeroU32;
    fn read_cfg(buf: &mut impl Buf, max: &NonZeroU32) -> Result<Self, CodecError> {
        Ok(match u8::read(buf)? {
            0 => Entry::Received {
                from: Pk::read(buf)?,
                msg: Msg::read_cfg(buf, max)?,
            },
            1 => Entry::Decided(Msg::read_cfg(buf, max)?),
            t => return Err(CodecError::InvalidEnum(t)),
        })
    }
}

impl Msg {
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Deal(_) => "deal",
            Msg::Ack { .. } => "ack",
            Msg::Log(_) => "log",
            Msg::Propose(_) => "propose",
            Msg::Echo { .. } => "echo",
            Msg::Commit { .. } => "commit",
            Msg::Public(_) => "public",
            Msg::Resync => "resync",
        }
    }
}
