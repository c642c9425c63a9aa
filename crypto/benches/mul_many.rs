//! One secret scalar times many G1 points (a member's decryption shares): blst's constant-time
//! GLV per point (`g1_mul_ct`) against the lock-step batch-affine `g1_mul_many_ct`, on one
//! thread, for N = 1, 16, 64, 256, 1024. Criterion reports the time per batch; divide by N for
//! the time per point (throughput is set to N elements, so it also prints points per second).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use curtain_crypto::bench_api::{mul_each, mul_many, points, BenchScalar};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let s = BenchScalar::new(&[0x5a; 64]);
    let all = points(1024, 1);
    let mut g = c.benchmark_group("g1_mul_same_scalar");
    for n in [1usize, 16, 64, 256, 1024] {
        let pts = &all[..n];
        g.throughput(Throughput::Elements(n as u64));
        if n >= 256 {
            g.sample_size(10);
        }
        g.bench_with_input(BenchmarkId::new("blst_g1_mul_ct_each", n), pts, |b, p| {
            b.iter(|| mul_each(black_box(p), &s))
        });
        g.bench_with_input(BenchmarkId::new("g1_mul_many_ct", n), pts, |b, p| {
            b.iter(|| mul_many(black_box(p), &s))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
