//! Seeded random streams.
//!
//! Each part of a scenario (latent noise, model parameters, spikes, behaviour timeline) draws
//! from its own stream derived from the seed and a fixed stream name. Changing the number of
//! neurons therefore leaves the latent trajectory of a seed unchanged, and every stream is
//! reproducible for a given seed and build of the trainer.

use rand::rngs::StdRng;
use rand::SeedableRng;

/// The random stream `name` of a simulation with seed `seed`.
pub fn stream(seed: u64, name: &str) -> StdRng {
    // FNV-1a of the name, mixed with the seed by splitmix64: distinct names give unrelated
    // streams, and the mapping never changes between runs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    StdRng::seed_from_u64(splitmix64(seed ^ h))
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
