//! Variable-time multi-scalar multiplication (batched validity, opening and share-batch
//! checks): blst's Pippenger against curtain's batch-affine bucket method (`msm`), both on one
//! thread, for N = 32, 128, 512, 2048 points and 128-bit (random weights) and 255-bit scalars.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use curtain_crypto::bench_api::{msm_affine, msm_blst, points};
use std::hint::black_box;

fn scalars(n: usize, nbits: usize) -> Vec<u8> {
    let nbytes = nbits.div_ceil(8);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = vec![0u8; n * nbytes];
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    for s in out.chunks_mut(nbytes) {
        s[nbytes - 1] &= 0xff >> (nbytes * 8 - nbits);
    }
    out
}

fn bench(c: &mut Criterion) {
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let all = points(2048, 7);
    for nbits in [128usize, 255] {
        let mut g = c.benchmark_group(format!("msm_{nbits}bit"));
        for n in [32usize, 128, 512, 2048] {
            let pts = &all[..n];
            let sc = scalars(n, nbits);
            g.throughput(Throughput::Elements(n as u64));
            if n >= 512 {
                g.sample_size(20);
            }
            g.bench_with_input(BenchmarkId::new("blst_pippenger", n), &n, |b, _| {
                b.iter(|| msm_blst(black_box(pts), &sc, nbits))
            });
            g.bench_with_input(BenchmarkId::new("batch_affine", n), &n, |b, _| {
                b.iter(|| one.install(|| msm_affine(black_box(pts), &sc, nbits)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
