//! Evidence of consensus equivocation, checked without commonware.
//!
//! commonware simplex reports a member that signs two conflicting votes in one round as
//! `Activity::ConflictingNotarize`, `ConflictingFinalize` or `NullifyFinalize`. A [`Conflict`]
//! carries such a pair in a canonical encoding, and [`Conflict::verify`] checks it against the
//! committee's public polynomial ([`ConsensusPublic`]) on blst directly, byte-exactly as
//! commonware =2026.10.0 checks each vote, so anyone holding the committee's
//! `consensus_public` can attribute the fault. (commonware calls its standard threshold scheme
//! non-attributable: `t` partial signatures let their holders forge any member's partial, so
//! evidence convicts a member only if fewer than `t` members collude.)
//!
//! **Votes** (commonware codec; varints are canonical LEB128 as in [`super::finality`]):
//! - notarize, finalize: `epoch(varint u64) ‖ view(varint u64) ‖ parent view(varint u64) ‖
//!   payload(32) ‖ signer(varint u32) ‖ signature(48, compressed G1)`; the first four fields
//!   are the proposal;
//! - nullify: `epoch(varint u64) ‖ view(varint u64) ‖ signer(varint u32) ‖ signature(48)`;
//!   the first two fields are the round.
//!
//! The signature must be a G1 point in the subgroup and not the identity. At most
//! [`MAX_VOTE_LEN`] bytes.
//!
//! **Signed message.** A vote by signer `i` signs `union_unique(ns, body)` = `varint(len(ns)) ‖
//! ns ‖ body`, where `ns` is curtain's consensus namespace followed by `_NOTARIZE`, `_NULLIFY`
//! or `_FINALIZE`, and `body` is the proposal's encoding (notarize, finalize) or the round's
//! (nullify). It is hashed to G1 with the DST `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_` and
//! verifies against the partial public key `f(i + 1)`, the public polynomial `f` at
//! commonware's evaluation point for participant `i` (`Mode::NonZeroCounter`), for
//! `i < total` (the sharing's participant count).
//!
//! **Conflict** (curtain's encoding): `kind(1) ‖ len(4, BE) ‖ first ‖ len(4, BE) ‖ second`,
//! with `kind` 1 (two notarizes), 2 (two finalizes) or 3 (a nullify, then a finalize), each
//! `len` at most [`MAX_VOTE_LEN`], and no trailing bytes. Both votes are by one signer and of
//! one round (epoch and view). Two notarizes or two finalizes carry different proposals and
//! come in ascending bytewise order of their encodings; a nullify comes before the finalize.
//! So one equivocation has exactly one encoding.

use super::finality::{
    g1, put_varint, union_unique, ConsensusPublic, Cursor, FinalityError, DST, FINALIZE_SUFFIX,
    G1_LEN,
};
use super::{Digest, CONSENSUS_NAMESPACE};
use blst::BLST_ERROR;

/// simplex's suffix for notarize votes.
const NOTARIZE_SUFFIX: &[u8] = b"_NOTARIZE";
/// simplex's suffix for nullify votes.
const NULLIFY_SUFFIX: &[u8] = b"_NULLIFY";
/// Longest encoded vote: a notarize or finalize with three 10-byte varints, the payload, a
/// 5-byte signer and the signature.
pub const MAX_VOTE_LEN: usize = 3 * 10 + 32 + 5 + G1_LEN;
/// Longest encoded [`Conflict`].
pub const MAX_CONFLICT_LEN: usize = 1 + 2 * (4 + MAX_VOTE_LEN);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VoteError {
    #[error(transparent)]
    Decode(#[from] FinalityError),
    #[error("unknown conflict kind {0}")]
    UnknownKind(u8),
    #[error("signer {signer} has no partial key (the sharing has {total} participants)")]
    SignerOutOfRange { signer: u32, total: u32 },
    #[error("the votes are by different signers ({0} and {1})")]
    DifferentSigners(u32, u32),
    #[error("the votes are of different rounds")]
    DifferentRounds,
    #[error("the votes do not conflict")]
    NotConflicting,
    #[error("the votes are not in canonical order")]
    NotCanonical,
    #[error("signer {0}'s partial signature does not verify")]
    BadSignature(u32),
}

/// The three kinds of simplex vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VoteKind {
    Notarize,
    Nullify,
    Finalize,
}

/// What a notarize or finalize vote is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Proposal {
    pub epoch: u64,
    pub view: u64,
    /// The parent's view.
    pub parent: u64,
    pub payload: Digest,
}

impl Proposal {
    /// commonware's encoding (what a vote signs, after the namespace).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(62);
        for v in [self.epoch, self.view, self.parent] {
            put_varint(&mut out, v);
        }
        out.extend_from_slice(&self.payload.0);
        out
    }
}

/// What a vote is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Notarize(Proposal),
    Nullify { epoch: u64, view: u64 },
    Finalize(Proposal),
}

/// One decoded (not yet verified) vote.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    pub subject: Subject,
    /// The signer's participant index.
    pub signer: u32,
    /// Validated on decode (subgroup, not the identity).
    signature: [u8; G1_LEN],
}

impl Vote {
    /// Decodes exactly one vote of `kind` (bounded, canonical).
    pub fn decode(kind: VoteKind, bytes: &[u8]) -> Result<Self, VoteError> {
        let mut r = Cursor(bytes);
        let vote = Self::read(kind, &mut r)?;
        r.finish()?;
        Ok(vote)
    }

    fn read(kind: VoteKind, r: &mut Cursor<'_>) -> Result<Self, FinalityError> {
        let epoch = r.varint("epoch")?;
        let view = r.varint("view")?;
        let subject = match kind {
            VoteKind::Nullify => Subject::Nullify { epoch, view },
            VoteKind::Notarize | VoteKind::Finalize => {
                let proposal = Proposal {
                    epoch,
                    view,
                    parent: r.varint("parent view")?,
                    payload: Digest(r.array("payload")?),
                };
                match kind {
                    VoteKind::Notarize => Subject::Notarize(proposal),
                    _ => Subject::Finalize(proposal),
                }
            }
        };
        let signer = r.varint_u32("signer")?;
        let signature = r.array::<G1_LEN>("signature")?;
        g1(&signature)?;
        Ok(Self {
            subject,
            signer,
            signature,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.body();
        put_varint(&mut out, u64::from(self.signer));
        out.extend_from_slice(&self.signature);
        out
    }

    pub fn kind(&self) -> VoteKind {
        match self.subject {
            Subject::Notarize(_) => VoteKind::Notarize,
            Subject::Nullify { .. } => VoteKind::Nullify,
            Subject::Finalize(_) => VoteKind::Finalize,
        }
    }

    /// The round: `(epoch, view)`.
    pub fn round(&self) -> (u64, u64) {
        match self.subject {
            Subject::Notarize(p) | Subject::Finalize(p) => (p.epoch, p.view),
            Subject::Nullify { epoch, view } => (epoch, view),
        }
    }

    /// The partial signature (compressed G1).
    pub fn signature(&self) -> [u8; G1_LEN] {
        self.signature
    }

    /// The proposal's or the round's encoding.
    fn body(&self) -> Vec<u8> {
        match self.subject {
            Subject::Notarize(p) | Subject::Finalize(p) => p.to_bytes(),
            Subject::Nullify { epoch, view } => {
                let mut out = Vec::with_capacity(20);
                put_varint(&mut out, epoch);
                put_varint(&mut out, view);
                out
            }
        }
    }

    /// What the signer signed: `union_unique(namespace ‖ suffix, body)`.
    pub fn message(&self) -> Vec<u8> {
        let suffix = match self.subject {
            Subject::Notarize(_) => NOTARIZE_SUFFIX,
            Subject::Nullify { .. } => NULLIFY_SUFFIX,
            Subject::Finalize(_) => FINALIZE_SUFFIX,
        };
        union_unique(&[CONSENSUS_NAMESPACE, suffix].concat(), &self.body())
    }

    /// Checks the partial signature against the signer's partial public key.
    pub fn verify(&self, public: &ConsensusPublic) -> Result<(), VoteError> {
        let key = public
            .partial_key(self.signer)
            .ok_or(VoteError::SignerOutOfRange {
                signer: self.signer,
                total: public.total(),
            })?;
        let signature = g1(&self.signature)?;
        // The signature was group-checked on decode; the key is a sum of multiples of
        // group-checked coefficients, so in G2 too.
        match signature.verify(false, &self.message(), DST, &[], &key, false) {
            BLST_ERROR::BLST_SUCCESS => Ok(()),
            _ => Err(VoteError::BadSignature(self.signer)),
        }
    }
}

/// Which two votes conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConflictKind {
    /// Two notarizes of different proposals.
    Notarizes = 1,
    /// Two finalizes of different proposals.
    Finalizes = 2,
    /// A nullify and a finalize of the same round.
    NullifyFinalize = 3,
}

impl ConflictKind {
    pub fn from_u8(byte: u8) -> Result<Self, VoteError> {
        match byte {
            1 => Ok(Self::Notarizes),
            2 => Ok(Self::Finalizes),
            3 => Ok(Self::NullifyFinalize),
            b => Err(VoteError::UnknownKind(b)),
        }
    }

    /// The kinds of the first and the second vote.
    pub fn votes(self) -> (VoteKind, VoteKind) {
        match self {
            Self::Notarizes => (VoteKind::Notarize, VoteKind::Notarize),
            Self::Finalizes => (VoteKind::Finalize, VoteKind::Finalize),
            Self::NullifyFinalize => (VoteKind::Nullify, VoteKind::Finalize),
        }
    }
}

/// Who equivocated, and in which round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Accusation {
    pub signer: u32,
    pub epoch: u64,
    pub view: u64,
}

/// Two conflicting votes by one signer in one round, in canonical order (see the module
/// header); signatures not yet verified.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conflict {
    kind: ConflictKind,
    first: Vote,
    second: Vote,
}

impl Conflict {
    /// The conflict of two encoded votes: two notarizes or two finalizes in either order, or a
    /// nullify (`a`) and a finalize (`b`). Checks that they decode, are by one signer, of one
    /// round, and conflict; not the signatures (see [`Self::verify`]).
    pub fn new(kind: ConflictKind, a: &[u8], b: &[u8]) -> Result<Self, VoteError> {
        let (ka, kb) = kind.votes();
        Self::from_votes(kind, Vote::decode(ka, a)?, Vote::decode(kb, b)?)
    }

    fn from_votes(kind: ConflictKind, a: Vote, b: Vote) -> Result<Self, VoteError> {
        let (a, b) = match kind {
            // Two votes of one kind have no natural order: the smaller encoding goes first.
            ConflictKind::Notarizes | ConflictKind::Finalizes if b.to_bytes() < a.to_bytes() => {
                (b, a)
            }
            _ => (a, b),
        };
        let conflict = Self {
            kind,
            first: a,
            second: b,
        };
        conflict.check()?;
        Ok(conflict)
    }

    /// Everything but the signatures.
    fn check(&self) -> Result<(), VoteError> {
        let (first, second) = (&self.first, &self.second);
        if first.signer != second.signer {
            return Err(VoteError::DifferentSigners(first.signer, second.signer));
        }
        if first.round() != second.round() {
            return Err(VoteError::DifferentRounds);
        }
        match (first.subject, second.subject) {
            (Subject::Notarize(p), Subject::Notarize(q))
            | (Subject::Finalize(p), Subject::Finalize(q)) => {
                // Different signatures on one proposal are not an equivocation (at most one
                // of them is valid: BLS signatures are unique).
                if p == q {
                    return Err(VoteError::NotConflicting);
                }
                if first.to_bytes() > second.to_bytes() {
                    return Err(VoteError::NotCanonical);
                }
            }
            (Subject::Nullify { .. }, Subject::Finalize(_)) => {}
            _ => unreachable!("decoded by the kind's vote kinds"),
        }
        Ok(())
    }

    pub fn kind(&self) -> ConflictKind {
        self.kind
    }

    pub fn first(&self) -> &Vote {
        &self.first
    }

    pub fn second(&self) -> &Vote {
        &self.second
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.kind as u8];
        for vote in [&self.first, &self.second] {
            let bytes = vote.to_bytes();
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// Decodes exactly one conflict in its canonical encoding (bounded: each length is checked
    /// against [`MAX_VOTE_LEN`] before it is used).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VoteError> {
        let mut r = Cursor(bytes);
        let kind = ConflictKind::from_u8(r.u8("conflict kind")?)?;
        let (ka, kb) = kind.votes();
        let mut vote = |kind| -> Result<Vote, VoteError> {
            let len = u32::from_be_bytes(r.array("vote length")?) as usize;
            if len > MAX_VOTE_LEN {
                return Err(FinalityError::Invalid {
                    field: "vote length",
                    reason: "above MAX_VOTE_LEN",
                }
                .into());
            }
            Vote::decode(kind, r.take(len, "vote")?)
        };
        let (first, second) = (vote(ka)?, vote(kb)?);
        r.finish()?;
        let conflict = Self {
            kind,
            first,
            second,
        };
        conflict.check()?;
        Ok(conflict)
    }

    /// Checks both partial signatures against the committee's public polynomial: `Ok` names
    /// the member that signed both votes.
    pub fn verify(&self, public: &ConsensusPublic) -> Result<Accusation, VoteError> {
        // Construction checked signer, round and conflict; this checks the index and keys.
        self.first.verify(public)?;
        self.second.verify(public)?;
        let (epoch, view) = self.first.round();
        Ok(Accusation {
            signer: self.first.signer,
            epoch,
            view,
        })
    }
}

#[cfg(feature = "node")]
mod node {
    use super::{Conflict, ConflictKind, Cursor, Vote};
    use crate::node::{ConsensusScheme, D};
    use commonware_codec::Encode as _;
    use commonware_consensus::simplex::types::Activity;

    impl Conflict {
        /// The evidence in a commonware fault report; `None` for any other activity, or for
        /// evidence that does not decode as a conflict (commonware's checks are the same, so
        /// only a malformed signature point gets here).
        pub fn from_activity(activity: &Activity<ConsensusScheme, D>) -> Option<Self> {
            // commonware keeps the two votes private; its encoding is the two votes back to
            // back, in their own (self-delimiting) encodings.
            let (kind, bytes) = match activity {
                Activity::ConflictingNotarize(c) => (ConflictKind::Notarizes, c.encode()),
                Activity::ConflictingFinalize(c) => (ConflictKind::Finalizes, c.encode()),
                Activity::NullifyFinalize(c) => (ConflictKind::NullifyFinalize, c.encode()),
                _ => return None,
            };
            let (ka, kb) = kind.votes();
            let mut r = Cursor(&bytes);
            let a = Vote::read(ka, &mut r).ok()?;
            let b = Vote::read(kb, &mut r).ok()?;
            r.finish().ok()?;
            Self::from_votes(kind, a, b).ok()
        }
    }
}

#[cfg(test)]
mod framing_tests {
    use super::*;

    #[test]
    fn evidence_framing_is_bounded_without_keys() {
        assert_eq!(
            Conflict::from_bytes(&[]),
            Err(FinalityError::Truncated("conflict kind").into())
        );
        for kind in [0, 4, 255] {
            assert_eq!(
                Conflict::from_bytes(&[kind]),
                Err(VoteError::UnknownKind(kind))
            );
        }
        // a length above the bound is refused before it is used
        let mut long = vec![1];
        long.extend_from_slice(&(MAX_VOTE_LEN as u32 + 1).to_be_bytes());
        assert!(matches!(
            Conflict::from_bytes(&long),
            Err(VoteError::Decode(FinalityError::Invalid {
                field: "vote length",
                ..
            }))
        ));
        let mut short = vec![1];
        short.extend_from_slice(&10u32.to_be_bytes());
        short.extend_from_slice(&[0; 9]);
        assert_eq!(
            Conflict::from_bytes(&short),
            Err(FinalityError::Truncated("vote").into())
        );
        assert_eq!(
            Vote::decode(VoteKind::Nullify, &[0, 1, 0]),
            Err(FinalityError::Truncated("signature").into())
        );
    }
}

/// Cross-checks against commonware: real keys, real votes, commonware's own verdicts.
#[cfg(all(test, feature = "node"))]
mod tests {
    use super::*;
    use crate::node::{ConsensusScheme, D};
    use commonware_codec::Encode as _;
    use commonware_consensus::simplex::types::{
        Activity, ConflictingFinalize, ConflictingNotarize, Finalize, Notarize, Nullify,
        NullifyFinalize, Proposal as CwProposal,
    };
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::bls12381::dkg::feldman_desmedt::deal;
    use commonware_cryptography::bls12381::primitives::{
        sharing::{Mode, Sharing},
        variant::MinSig,
    };
    use commonware_cryptography::{ed25519, sha256, Signer as _};
    use commonware_parallel::Sequential;
    use commonware_utils::{ordered::Set, N3f1, Participant};
    use rand::SeedableRng as _;
    use rand_chacha::ChaCha20Rng;

    const N: usize = 4;

    struct Fixture {
        sharing: Sharing<MinSig>,
        public: ConsensusPublic,
        /// Member `i`'s signer, in index order.
        signers: Vec<ConsensusScheme>,
        verifier: ConsensusScheme,
    }

    fn fixture() -> Fixture {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut pks: Vec<ed25519::PublicKey> = (0..N as u64)
            .map(|s| ed25519::PrivateKey::from_seed(s).public_key())
            .collect();
        pks.sort();
        let set = Set::try_from(pks.clone()).expect("distinct");
        let (output, shares) =
            deal::<MinSig, _, N3f1>(&mut rng, Mode::NonZeroCounter, set.clone()).expect("deal");
        let sharing = output.public().clone();
        let signers: Vec<ConsensusScheme> = pks
            .iter()
            .map(|pk| {
                let share = shares.get_value(pk).expect("dealt").clone();
                ConsensusScheme::signer(CONSENSUS_NAMESPACE, set.clone(), sharing.clone(), share)
                    .expect("share matches")
            })
            .collect();
        let verifier = ConsensusScheme::verifier(CONSENSUS_NAMESPACE, set, sharing.clone());
        let public = ConsensusPublic::from_bytes(&sharing.encode(), N).expect("decodes");
        Fixture {
            sharing,
            public,
            signers,
            verifier,
        }
    }

    fn proposal(epoch: u64, view: u64, payload: u8) -> CwProposal<D> {
        CwProposal::new(
            Round::new(Epoch::new(epoch), View::new(view)),
            View::new(view - 1),
            sha256::Digest([payload; 32]),
        )
    }

    fn notarize(s: &ConsensusScheme, p: CwProposal<D>) -> Notarize<ConsensusScheme, D> {
        Notarize::sign(s, p).expect("signer")
    }

    fn finalize(s: &ConsensusScheme, p: CwProposal<D>) -> Finalize<ConsensusScheme, D> {
        Finalize::sign(s, p).expect("signer")
    }

    fn nullify(s: &ConsensusScheme, epoch: u64, view: u64) -> Nullify<ConsensusScheme> {
        Nullify::sign::<D>(s, Round::new(Epoch::new(epoch), View::new(view))).expect("signer")
    }

    /// commonware's verdict on an activity.
    fn commonware_accepts(f: &Fixture, activity: &Activity<ConsensusScheme, D>) -> bool {
        activity.verify(&mut ChaCha20Rng::seed_from_u64(1), &f.verifier, &Sequential)
    }

    /// The conflicts member 1 commits in epoch 3, view 9, as commonware reports them.
    fn activities(f: &Fixture) -> Vec<Activity<ConsensusScheme, D>> {
        let s = &f.signers[1];
        vec![
            Activity::ConflictingNotarize(ConflictingNotarize::new(
                notarize(s, proposal(3, 9, 0xaa)),
                notarize(s, proposal(3, 9, 0xbb)),
            )),
            Activity::ConflictingFinalize(ConflictingFinalize::new(
                finalize(s, proposal(3, 9, 0xbb)),
                finalize(s, proposal(3, 9, 0xaa)),
            )),
            Activity::NullifyFinalize(NullifyFinalize::new(
                nullify(s, 3, 9),
                finalize(s, proposal(3, 9, 0xaa)),
            )),
        ]
    }

    #[test]
    fn evidence_partial_keys_match_commonware() {
        let f = fixture();
        for i in 0..N as u32 {
            let ours = f.public.partial_key(i).expect("i < n").compress();
            let theirs = f
                .sharing
                .partial_public(Participant::new(i))
                .expect("i < n");
            assert_eq!(ours.as_slice(), theirs.encode().as_ref());
        }
        assert_eq!(f.public.total(), N as u32);
        assert!(f.public.partial_key(N as u32).is_none());
        // the certificate verifier is the constant term, as before the refactor
        assert_eq!(
            f.public.verifier().identity().as_slice(),
            f.sharing.public().encode().as_ref()
        );
    }

    #[test]
    fn evidence_from_commonware_verifies_node_free() {
        let f = fixture();
        let kinds = [
            ConflictKind::Notarizes,
            ConflictKind::Finalizes,
            ConflictKind::NullifyFinalize,
        ];
        for (activity, kind) in activities(&f).iter().zip(kinds) {
            assert!(commonware_accepts(&f, activity));
            let conflict = Conflict::from_activity(activity).expect("a fault");
            assert_eq!(conflict.kind(), kind);
            assert_eq!(
                conflict.verify(&f.public),
                Ok(Accusation {
                    signer: 1,
                    epoch: 3,
                    view: 9
                })
            );
            let bytes = conflict.to_bytes();
            assert!(bytes.len() <= MAX_CONFLICT_LEN);
            assert_eq!(Conflict::from_bytes(&bytes), Ok(conflict.clone()));
            // one equivocation, one encoding: the pair in the other order gives the same bytes
            let (a, b) = (conflict.first().to_bytes(), conflict.second().to_bytes());
            if kind != ConflictKind::NullifyFinalize {
                assert_eq!(Conflict::new(kind, &b, &a).map(|c| c.to_bytes()), Ok(bytes));
                assert!(a < b);
            }
        }
        // the votes themselves, as commonware encodes them
        let n = notarize(&f.signers[2], proposal(3, 9, 0xcc));
        let v = Vote::decode(VoteKind::Notarize, &n.encode()).expect("decodes");
        assert_eq!(
            (v.signer, v.round(), v.to_bytes()),
            (2, (3, 9), n.encode().to_vec())
        );
        assert_eq!(v.verify(&f.public), Ok(()));
        // non-fault activity is not evidence
        assert_eq!(Conflict::from_activity(&Activity::Notarize(n)), None);
        let nul = nullify(&f.signers[0], 3, 9);
        assert_eq!(Conflict::from_activity(&Activity::Nullify(nul)), None);
    }

    #[test]
    fn evidence_rejects_non_conflicts() {
        let f = fixture();
        let (s1, s2) = (&f.signers[1], &f.signers[2]);
        let enc = |n: Notarize<ConsensusScheme, D>| n.encode().to_vec();
        let a = enc(notarize(s1, proposal(3, 9, 0xaa)));
        // the same proposal twice (identical votes)
        assert_eq!(
            Conflict::new(ConflictKind::Notarizes, &a, &a),
            Err(VoteError::NotConflicting)
        );
        // two different signers
        let other = enc(notarize(s2, proposal(3, 9, 0xbb)));
        assert_eq!(
            Conflict::new(ConflictKind::Notarizes, &a, &other),
            Err(VoteError::DifferentSigners(1, 2))
        );
        // different views, and different epochs
        for p in [proposal(3, 10, 0xbb), proposal(4, 9, 0xbb)] {
            let b = enc(notarize(s1, p));
            assert_eq!(
                Conflict::new(ConflictKind::Notarizes, &a, &b),
                Err(VoteError::DifferentRounds)
            );
        }
        let fin = finalize(s1, proposal(3, 9, 0xaa)).encode();
        let nul = nullify(s1, 3, 10).encode();
        assert_eq!(
            Conflict::new(ConflictKind::NullifyFinalize, &nul, &fin),
            Err(VoteError::DifferentRounds)
        );
        // a finalize where the nullify belongs does not decode as one
        assert!(matches!(
            Conflict::new(ConflictKind::NullifyFinalize, &fin, &fin),
            Err(VoteError::Decode(_))
        ));
    }

    #[test]
    fn evidence_rejects_a_relabelled_signature() {
        let f = fixture();
        let honest = notarize(&f.signers[1], proposal(3, 9, 0xaa));
        // member 2's partial on another proposal, claimed as member 1's
        let mut forged = notarize(&f.signers[2], proposal(3, 9, 0xbb));
        forged.attestation.signer = Participant::new(1);
        let activity = Activity::ConflictingNotarize(ConflictingNotarize::new(honest, forged));
        assert!(!commonware_accepts(&f, &activity));
        let conflict = Conflict::from_activity(&activity).expect("well-formed");
        assert_eq!(conflict.verify(&f.public), Err(VoteError::BadSignature(1)));
    }

    #[test]
    fn evidence_rejects_tampered_encodings() {
        let f = fixture();
        let activity = &activities(&f)[0];
        let bytes = Conflict::from_activity(activity).expect("fault").to_bytes();

        // a flipped signature byte: not a point, or a point that does not verify
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        match Conflict::from_bytes(&flipped) {
            Err(VoteError::Decode(FinalityError::Point { .. })) => {}
            Ok(c) => assert_eq!(c.verify(&f.public), Err(VoteError::BadSignature(1))),
            other => panic!("flipped signature accepted as {other:?}"),
        }
        // truncated, trailing
        assert_eq!(
            Conflict::from_bytes(&bytes[..bytes.len() - 1]),
            Err(FinalityError::Truncated("vote").into())
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Conflict::from_bytes(&trailing),
            Err(FinalityError::TrailingBytes(1).into())
        );
        // a byte inside a vote's frame that the vote does not use
        let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        let mut padded = vec![bytes[0]];
        padded.extend_from_slice(&(len as u32 + 1).to_be_bytes());
        padded.extend_from_slice(&bytes[5..5 + len]);
        padded.push(0);
        padded.extend_from_slice(&bytes[5 + len..]);
        assert_eq!(
            Conflict::from_bytes(&padded),
            Err(FinalityError::TrailingBytes(1).into())
        );
        // the pair out of canonical order
        let mut swapped = vec![bytes[0]];
        swapped.extend_from_slice(&bytes[5 + len..]);
        swapped.extend_from_slice(&bytes[1..5 + len]);
        assert_eq!(Conflict::from_bytes(&swapped), Err(VoteError::NotCanonical));

        // wrong kind: notarizes read as finalizes decode, but the signatures are on other messages
        let mut as_finalizes = bytes.clone();
        as_finalizes[0] = ConflictKind::Finalizes as u8;
        let c = Conflict::from_bytes(&as_finalizes).expect("same layout");
        assert_eq!(c.verify(&f.public), Err(VoteError::BadSignature(1)));
        // ... and read as a nullify they do not decode
        let mut as_nullify = bytes.clone();
        as_nullify[0] = ConflictKind::NullifyFinalize as u8;
        assert!(matches!(
            Conflict::from_bytes(&as_nullify),
            Err(VoteError::Decode(_))
        ));
        let mut unknown = bytes;
        unknown[0] = 4;
        assert_eq!(
            Conflict::from_bytes(&unknown),
            Err(VoteError::UnknownKind(4))
        );
    }

    #[test]
    fn evidence_signer_index_at_or_above_n_is_rejected() {
        let f = fixture();
        let s = &f.signers[1];
        let kinds = [
            (
                ConflictKind::Notarizes,
                VoteKind::Notarize,
                VoteKind::Notarize,
            ),
            (
                ConflictKind::Finalizes,
                VoteKind::Finalize,
                VoteKind::Finalize,
            ),
            (
                ConflictKind::NullifyFinalize,
                VoteKind::Nullify,
                VoteKind::Finalize,
            ),
        ];
        let pairs = [
            (
                notarize(s, proposal(3, 9, 1)).encode(),
                notarize(s, proposal(3, 9, 2)).encode(),
            ),
            (
                finalize(s, proposal(3, 9, 1)).encode(),
                finalize(s, proposal(3, 9, 2)).encode(),
            ),
            (
                nullify(s, 3, 9).encode(),
                finalize(s, proposal(3, 9, 2)).encode(),
            ),
        ];
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut indices = vec![N as u32, N as u32 + 1, 127, 128, 1 << 14, u32::MAX];
        indices.extend((0..64).map(|_| {
            let r: u32 = rand::RngExt::random(&mut rng);
            r.max(N as u32)
        }));
        for ((kind, ka, kb), (a, b)) in kinds.into_iter().zip(pairs) {
            for &signer in &indices {
                let relabel = |k, bytes: &[u8]| {
                    let mut v = Vote::decode(k, bytes).expect("decodes");
                    v.signer = signer;
                    v.to_bytes()
                };
                let c = Conflict::new(kind, &relabel(ka, &a), &relabel(kb, &b)).expect("shape");
                assert_eq!(
                    c.verify(&f.public),
                    Err(VoteError::SignerOutOfRange {
                        signer,
                        total: N as u32
                    })
                );
                assert!(f.public.partial_key(signer).is_none());
            }
        }
    }
}
