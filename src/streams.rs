//! Seeded random streams: every draw of a run comes from a ChaCha stream
//! named by its purpose, so the same seed gives the same bytes everywhere.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A seeded stream: one per purpose, so adding a consumer changes no other.
pub fn stream(seed: u64, k: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k);
    rng
}
