//! Ceremony wall time, simulated: every member's `curtain::dkg::Ceremony` in one process,
//! messages routed in memory (through the wire codec), one thread. This is the total CPU work
//! of all n members back to back (a real ceremony spreads it over n machines), so it bounds
//! the loopback figure from above for large n where one process per member does not fit.
//!
//! Run: cargo bench --bench dkg [-- 4 16 64]

use commonware_codec::{Decode as _, Encode as _};
use commonware_cryptography::{ed25519, Signer as _};
use commonware_math::algebra::Random as _;
use commonware_utils::ordered::Set;
use curtain::dkg::{msg::Msg, Ceremony, Effect, RoundConfig, Secrets, Timeouts};
use rand::SeedableRng as _;
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::Instant;

fn ceremony(n: usize) -> f64 {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(n as u64);
    let mut keys: Vec<ed25519::PrivateKey> = (0..n)
        .map(|_| ed25519::PrivateKey::random(&mut rng))
        .collect();
    keys.sort_by_key(|k| k.public_key());
    let pks: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
    let set = Set::try_from(pks.clone()).unwrap();
    let cfg = RoundConfig {
        round: 0,
        dealers: set.clone(),
        players: set,
        previous: None,
        timeouts: Timeouts::default(),
    };
    let max = NonZeroU32::new(n as u32).unwrap();
    let start = Instant::now();
    let mut nodes = Vec::new();
    let mut queue = VecDeque::new();
    let mut done = 0;
    let route = |from: usize, effects: Vec<Effect>, queue: &mut VecDeque<_>, done: &mut usize| {
        for e in effects {
            match e {
                Effect::Send(to, msg) => {
                    let to = pks.iter().position(|p| *p == to).unwrap();
                    queue.push_back((from, to, msg.encode()));
                }
                Effect::Done(_) => *done += 1,
                Effect::Failed(r) => panic!("{r}"),
                Effect::Persist(_) => {}
            }
        }
    };
    for (i, k) in keys.iter().enumerate() {
        let (c, out) = Ceremony::new(
            cfg.clone(),
            Secrets {
                identity: k.clone(),
                consensus: None,
                encryption: None,
            },
            [i as u8; 32],
        )
        .unwrap();
        nodes.push(c);
        route(i, out, &mut queue, &mut done);
    }
    while let Some((from, to, bytes)) = queue.pop_front() {
        let msg = Msg::decode_cfg(bytes, &max).unwrap();
        let out = nodes[to].receive(pks[from].clone(), msg);
        route(to, out, &mut queue, &mut done);
    }
    assert_eq!(done, n, "every member finishes without a timeout");
    start.elapsed().as_secs_f64()
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![4, 16, 64]
    } else {
        sizes
    };
    println!("| n | simulated ceremony (all members, one thread) |");
    println!("|---|---|");
    for n in sizes {
        println!("| {n} | {:.2} s |", ceremony(n));
    }
}
