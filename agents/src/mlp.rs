//! A ReLU multilayer perceptron over plain `f32` arrays, with its forward
//! and backward passes written out in a fixed order.
//!
//! Why not candle's kernels: they pick their arithmetic by what the CPU
//! reports at run time (gemm's SIMD path and cache-sized blocks, and the
//! AVX2 branches of candle's own sums and dot products), so the same run
//! rounded differently on different machines. Every sum here runs in the
//! order the code states. The inner loops add one product per output
//! element and iteration, with no fused multiply-add, and are vectorised
//! across outputs only: each output element gets the same chain of IEEE
//! operations whatever the lane width, so the AVX2 copies of the kernels
//! (picked at run time, see [`Level`]) and the SSE2 baseline give the same
//! bits. See docs/reproducibility.md.
//!
//! Weights are drawn from our own seeded stream.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Layers `sizes[0] -> ... -> sizes[last]`, ReLU between; `w` row-major
/// `[in][out]`, so a layer is `x w + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Frozen {
    pub sizes: Vec<usize>,
    pub layers: Vec<(Vec<f32>, Vec<f32>)>,
}

/// The trainable network: the same arrays (training and acting share every
/// rounding, so a freshly sampled action's probability ratio is exactly 1).
pub type Mlp = Frozen;

/// The instruction set the kernels run with, picked once per process from
/// what the CPU reports. Every level computes the same bits: the kernels
/// only vectorise across independent output elements, each of which gets
/// the same chain of separate IEEE multiplies and adds in the same order
/// (no fused multiply-add, no reassociated sum), so the lane width changes
/// how many elements are done at once, never what any of them is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// SSE2, the x86-64 baseline (and any other architecture).
    Base,
    /// AVX2 (256-bit lanes; `fma` is not enabled).
    Avx2,
}

impl Level {
    /// The widest level this CPU runs.
    pub fn detect() -> Level {
        static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                return Level::Avx2;
            }
            Level::Base
        })
    }

    /// Every level this CPU runs (for tests that compare them).
    pub fn available() -> Vec<Level> {
        match Level::detect() {
            Level::Base => vec![Level::Base],
            Level::Avx2 => vec![Level::Base, Level::Avx2],
        }
    }
}

/// Defines `$name(level, args)`, which runs `$body::<W>(args)` compiled for
/// `level`: `W` is the widest block of outputs kept in registers (32 floats
/// fill half of SSE2's 16 registers; AVX2's 16 hold 64 in 8).
macro_rules! dispatch {
    ($name:ident => $body:ident ($($arg:ident : $ty:ty),* $(,)?)) => {
        #[allow(clippy::too_many_arguments)]
        fn $name(level: Level, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    $body::<64>($($arg),*)
                }
                if level == Level::Avx2 {
                    // SAFETY: `Level::Avx2` is only chosen on a CPU that
                    // reports AVX2 (`Level::detect`).
                    return unsafe { avx2($($arg),*) };
                }
            }
            let _ = level;
            $body::<32>($($arg),*)
        }
    };
}

/// `out[j] = init[j] + x[k0] * mat[k0][j] + x[k1] * mat[k1][j] + ...`
/// over the nonzero entries `k0 < k1 < ...` of `x` (the set bits of
/// `words`, see [`nonzero_words`]), the terms added one at a time in that
/// order, each a separate multiply and add (`mat` row-major, rows of `m`).
/// This is every sum of the forward and backward passes but those of a
/// narrow last layer ([`narrow_forward`], [`narrow_weight_grads`], which
/// take the same steps per element). A zero entry adds nothing, not even a
/// signed zero. Outputs are done in blocks of `W` (then 32, 16, 8, 4, and
/// a last block of 1 to 3), each block's running sums held in registers
/// across all of `x`.
///
/// With `ONES`, the caller has checked that every nonzero entry of `x` is
/// exactly 1.0 ([`zero_or_one`]: a one-hot observation): `1.0 * w` is `w`
/// bit for bit (IEEE multiplication by one is exact, NaNs aside, which no
/// weight is), so the terms are added without their multiplies.
#[inline(always)]
fn combine<const W: usize, const ONES: bool>(
    mat: &[f32],
    m: usize,
    init: &[f32],
    x: &[f32],
    words: &[u64],
    out: &mut [f32],
) {
    let mut j = 0;
    while m - j >= W {
        block::<W, ONES>(mat, m, j, init, x, words, out);
        j += W;
    }
    if W > 32 && m - j >= 32 {
        block::<32, ONES>(mat, m, j, init, x, words, out);
        j += 32;
    }
    if m - j >= 16 {
        block::<16, ONES>(mat, m, j, init, x, words, out);
        j += 16;
    }
    if m - j >= 8 {
        block::<8, ONES>(mat, m, j, init, x, words, out);
        j += 8;
    }
    if m - j >= 4 {
        block::<4, ONES>(mat, m, j, init, x, words, out);
        j += 4;
    }
    match m - j {
        3 => block::<3, ONES>(mat, m, j, init, x, words, out),
        2 => block::<2, ONES>(mat, m, j, init, x, words, out),
        1 => block::<1, ONES>(mat, m, j, init, x, words, out),
        _ => {}
    }
}

/// [`combine`] for the `N` outputs from `j`; with `ONES`, every nonzero
/// entry of `x` is 1.0 (see [`combine`]).
#[inline(always)]
fn block<const N: usize, const ONES: bool>(
    mat: &[f32],
    m: usize,
    j: usize,
    init: &[f32],
    x: &[f32],
    words: &[u64],
    out: &mut [f32],
) {
    let mut acc: [f32; N] = init[j..j + N].try_into().expect("N outputs");
    for (c, &word) in words.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let k = c * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let v = x[k];
            let row: &[f32; N] = mat[k * m + j..][..N].try_into().expect("N weights");
            if ONES {
                // `v` is 1.0 and `1.0 * w` is `w` exactly: the same sum
                // without the multiplies.
                for c in 0..N {
                    acc[c] += row[c];
                }
            } else {
                for c in 0..N {
                    acc[c] += v * row[c];
                }
            }
        }
    }
    out[j..j + N].copy_from_slice(&acc);
}

/// Writes to `words` one bit per entry of `x`, set where `x[i] != 0.0`
/// (NaN included): bit `i % 64` of word `i / 64`. The kernels then visit
/// only the set bits: hidden units are on or off at random, which a branch
/// per entry would mispredict.
#[inline(always)]
fn nonzero_words<'a>(x: &[f32], words: &'a mut [u64]) -> &'a [u64] {
    let n = x.len().div_ceil(64);
    for (word, chunk) in words[..n].iter_mut().zip(x.chunks(64)) {
        *word = nonzero_mask(chunk);
    }
    &words[..n]
}

/// Bit `i` set where `x[i] != 0.0` (NaN included), for up to 64 entries.
#[inline(always)]
fn nonzero_mask(x: &[f32]) -> u64 {
    let mut bits = 0u64;
    let mut quads = x.chunks_exact(4);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpneq_ps, _mm_loadu_ps, _mm_movemask_ps, _mm_setzero_ps};
        for (q, quad) in quads.by_ref().enumerate() {
            // SAFETY: SSE2 is part of x86-64; the load reads the 4 floats of `quad`.
            let m = unsafe {
                _mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(quad.as_ptr()), _mm_setzero_ps()))
            };
            bits |= (m as u64) << (4 * q);
        }
    }
    for (q, quad) in quads.by_ref().enumerate() {
        for (i, &v) in quad.iter().enumerate() {
            bits |= ((v != 0.0) as u64) << (4 * q + i);
        }
    }
    let done = x.len() / 4 * 4;
    for (i, &v) in x[done..].iter().enumerate() {
        bits |= ((v != 0.0) as u64) << (done + i);
    }
    bits
}

/// Whether every entry of `x` is exactly 0.0 or 1.0 (signed zeros
/// included, NaN excluded): a one-hot observation, whose sums
/// [`combine`] can take without multiplies.
#[inline(always)]
fn zero_or_one(x: &[f32]) -> bool {
    let mut quads = x.chunks_exact(4);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of x86-64; each load reads the 4 floats of a quad.
    let other = unsafe {
        use std::arch::x86_64::{
            _mm_and_ps, _mm_cmpneq_ps, _mm_loadu_ps, _mm_movemask_ps, _mm_or_ps, _mm_set1_ps,
            _mm_setzero_ps,
        };
        let (zero, one) = (_mm_setzero_ps(), _mm_set1_ps(1.0));
        let mut any = _mm_setzero_ps();
        for quad in quads.by_ref() {
            let v = _mm_loadu_ps(quad.as_ptr());
            any = _mm_or_ps(
                any,
                _mm_and_ps(_mm_cmpneq_ps(v, zero), _mm_cmpneq_ps(v, one)),
            );
        }
        _mm_movemask_ps(any) != 0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let other = false;
    let other = other || quads.by_ref().flatten().any(|&v| v != 0.0 && v != 1.0);
    !other && quads.remainder().iter().all(|&v| v == 0.0 || v == 1.0)
}

#[inline(always)]
fn relu(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = v.max(0.0);
    }
}

/// Rows (or inputs) taken together by the narrow kernels, one per lane.
const G: usize = 8;

/// Whether a layer of `m` outputs goes through the narrow kernels.
fn narrow(m: usize) -> bool {
    m <= 4
}

/// A layer with few outputs (a policy's or value network's last) for a
/// group of `G` rows, one row per lane: `xt[i][l]` is row `l`'s input `i`
/// and `out[l][j] = b[j] + sum_i xt[i][l] w[i][j]` over the nonzero
/// inputs, `i` ascending, for the first `lanes` rows. Each lane's running
/// sum takes the same steps as [`combine`]'s: where a row's input is zero
/// the sum is computed and thrown away (a blend, not an added zero), so
/// the bits are the same.
#[inline(always)]
fn narrow_forward<const J: usize>(w: &[f32], b: &[f32], xt: &[f32], lanes: usize, out: &mut [f32]) {
    let mut acc = [[0.0f32; G]; J];
    for j in 0..J {
        acc[j] = [b[j]; G];
    }
    for (x, wr) in xt.chunks_exact(G).zip(w.chunks_exact(J)) {
        for j in 0..J {
            for l in 0..G {
                let s = acc[j][l] + x[l] * wr[j];
                acc[j][l] = if x[l] != 0.0 { s } else { acc[j][l] };
            }
        }
    }
    for l in 0..lanes {
        for j in 0..J {
            out[l * J + j] = acc[j][l];
        }
    }
}

/// [`narrow_forward`] for `b.len()` outputs (at most 4).
#[inline(always)]
fn narrow_forward_any(w: &[f32], b: &[f32], xt: &[f32], lanes: usize, out: &mut [f32]) {
    match b.len() {
        1 => narrow_forward::<1>(w, b, xt, lanes, out),
        2 => narrow_forward::<2>(w, b, xt, lanes, out),
        3 => narrow_forward::<3>(w, b, xt, lanes, out),
        4 => narrow_forward::<4>(w, b, xt, lanes, out),
        m => unreachable!("{m} outputs are not narrow"),
    }
}

/// The weight gradients of a layer with few outputs, `G` inputs at a time,
/// one per lane: `gw[i][j] = 0 + sum_r x[r][i] g[r][j]` over the rows `r`
/// ascending where `x[r][i]` is nonzero (a blend where it is zero), the
/// same steps as [`scatter`]'s.
#[inline(always)]
fn narrow_weight_grads<const J: usize>(input: &[f32], g: &[f32], rows: usize, gw: &mut [f32]) {
    let n_in = gw.len() / J;
    for i0 in (0..n_in).step_by(G) {
        let lanes = G.min(n_in - i0);
        let mut acc = [[0.0f32; G]; J];
        for r in 0..rows {
            let mut x = [0.0f32; G];
            x[..lanes].copy_from_slice(&input[r * n_in + i0..][..lanes]);
            let gr: &[f32; J] = g[r * J..][..J].try_into().expect("J gradients");
            for j in 0..J {
                for l in 0..G {
                    let s = acc[j][l] + x[l] * gr[j];
                    acc[j][l] = if x[l] != 0.0 { s } else { acc[j][l] };
                }
            }
        }
        for l in 0..lanes {
            for j in 0..J {
                gw[(i0 + l) * J + j] = acc[j][l];
            }
        }
    }
}

/// Per-thread scratch for the forward passes (whose callers hold none of
/// this kind): mask words for `width` entries, and a group of `G` rows of
/// `width` for the narrow kernels.
fn with_scratch<T>(width: usize, f: impl FnOnce(&mut [u64], &mut [f32]) -> T) -> T {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<u64>, Vec<f32>)> =
            const { std::cell::RefCell::new((vec![], vec![])) };
    }
    SCRATCH.with_borrow_mut(|(words, group)| {
        if words.len() < width.div_ceil(64) {
            words.resize(width.div_ceil(64), 0);
        }
        if group.len() < G * width {
            group.resize(G * width, 0.0);
        }
        f(words, group)
    })
}

dispatch!(forward_rows => forward_rows_body(
    net: &Frozen,
    x: &[f32],
    rows: usize,
    hidden: &mut [f32],
    words: &mut [u64],
    group: &mut [f32],
    out: &mut [f32],
));

/// Every row through every hidden layer before the next row: `out = b +
/// sum_i x[i] w[i]` over the nonzero inputs, `i` ascending, then ReLU.
/// A narrow last layer is done for `G` rows at once. Acting and training
/// go through the same kernels, so they round alike.
#[inline(always)]
fn forward_rows_body<const W: usize>(
    net: &Frozen,
    x: &[f32],
    rows: usize,
    hidden: &mut [f32],
    words: &mut [u64],
    group: &mut [f32],
    out: &mut [f32],
) {
    let (n_in, n_out, last) = (net.inputs(), net.outputs(), net.layers.len() - 1);
    let width = hidden.len() / 2;
    let (mut a, mut b) = hidden.split_at_mut(width);
    let is_narrow = narrow(n_out);
    let (w_last, b_last) = &net.layers[last];
    let group = &mut group[..G * net.sizes[last]];
    for r0 in (0..rows).step_by(G) {
        let lanes = G.min(rows - r0);
        for r in r0..r0 + lanes {
            let mut input = &x[r * n_in..][..n_in];
            for (k, (w, bias)) in net.layers.iter().enumerate() {
                let m = bias.len();
                if k == last {
                    if is_narrow {
                        for (i, &v) in input.iter().enumerate() {
                            group[i * G + r - r0] = v;
                        }
                    } else {
                        let nz = nonzero_words(input, words);
                        let o = &mut out[r * n_out..][..n_out];
                        if k == 0 && zero_or_one(input) {
                            combine::<W, true>(w, m, bias, input, nz, o);
                        } else {
                            combine::<W, false>(w, m, bias, input, nz, o);
                        }
                    }
                } else {
                    let nz = nonzero_words(input, words);
                    let h = &mut b[..m];
                    if k == 0 && zero_or_one(input) {
                        combine::<W, true>(w, m, bias, input, nz, h);
                    } else {
                        combine::<W, false>(w, m, bias, input, nz, h);
                    }
                    relu(h);
                    std::mem::swap(&mut a, &mut b);
                    input = &a[..m];
                }
            }
        }
        if is_narrow {
            let o = &mut out[r0 * n_out..][..lanes * n_out];
            narrow_forward_any(w_last, b_last, group, lanes, o);
        }
    }
}

dispatch!(layer_rows => layer_rows_body(
    w: &[f32],
    b: &[f32],
    input: &[f32],
    rows: usize,
    hidden: bool,
    words: &mut [u64],
    group: &mut [f32],
    out: &mut [f32],
));

/// One layer for every row (the arithmetic of [`forward_rows_body`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn layer_rows_body<const W: usize>(
    w: &[f32],
    b: &[f32],
    input: &[f32],
    rows: usize,
    hidden: bool,
    words: &mut [u64],
    group: &mut [f32],
    out: &mut [f32],
) {
    let m = b.len();
    let n_in = w.len() / m;
    if !hidden && narrow(m) {
        let group = &mut group[..G * n_in];
        for r0 in (0..rows).step_by(G) {
            let lanes = G.min(rows - r0);
            for l in 0..lanes {
                for (i, &v) in input[(r0 + l) * n_in..][..n_in].iter().enumerate() {
                    group[i * G + l] = v;
                }
            }
            narrow_forward_any(w, b, group, lanes, &mut out[r0 * m..][..lanes * m]);
        }
        return;
    }
    for r in 0..rows {
        let x = &input[r * n_in..][..n_in];
        let nz = nonzero_words(x, words);
        let o = &mut out[r * m..][..m];
        if zero_or_one(x) {
            combine::<W, true>(w, m, b, x, nz, o);
        } else {
            combine::<W, false>(w, m, b, x, nz, o);
        }
        if hidden {
            relu(o);
        }
    }
}

dispatch!(weight_grads => weight_grads_body(
    input: &[f32],
    g: &[f32],
    rows: usize,
    words: &mut [u64],
    gw: &mut [f32],
    gb: &mut [f32],
));

/// `gb[j] = 0 + g[0][j] + g[1][j] + ...` and `gw[i][j] = 0 + x[r][i] g[r][j]`
/// summed over the rows `r` ascending where `x[r][i]` is nonzero. Row by
/// row: each nonzero input adds its row's gradient, times itself, to its
/// weight row (the row's gradient stays in registers).
#[inline(always)]
fn weight_grads_body<const W: usize>(
    input: &[f32],
    g: &[f32],
    rows: usize,
    words: &mut [u64],
    gw: &mut [f32],
    gb: &mut [f32],
) {
    let n_out = gb.len();
    let n_in = gw.len() / n_out;
    gw.fill(0.0);
    gb.fill(0.0);
    if narrow(n_out) {
        for gr in g[..rows * n_out].chunks_exact(n_out) {
            for (gb, gr) in gb.iter_mut().zip(gr) {
                *gb += gr;
            }
        }
        match n_out {
            1 => narrow_weight_grads::<1>(input, g, rows, gw),
            2 => narrow_weight_grads::<2>(input, g, rows, gw),
            3 => narrow_weight_grads::<3>(input, g, rows, gw),
            _ => narrow_weight_grads::<4>(input, g, rows, gw),
        }
        return;
    }
    for r in 0..rows {
        let gr = &g[r * n_out..][..n_out];
        for (gb, gr) in gb.iter_mut().zip(gr) {
            *gb += gr;
        }
        let x = &input[r * n_in..][..n_in];
        let nz = nonzero_words(x, words);
        if zero_or_one(x) {
            scatter_all::<W, true>(gr, x, nz, gw);
        } else {
            scatter_all::<W, false>(gr, x, nz, gw);
        }
    }
}

/// [`scatter`] over all of a row's outputs, in blocks of `W`, then 32,
/// 16, 8, 4 and the last 1 to 3.
#[inline(always)]
fn scatter_all<const W: usize, const ONES: bool>(
    gr: &[f32],
    x: &[f32],
    nz: &[u64],
    gw: &mut [f32],
) {
    let n_out = gr.len();
    let mut j = 0;
    while n_out - j >= W {
        scatter::<W, ONES>(gr, j, x, nz, gw);
        j += W;
    }
    if W > 32 && n_out - j >= 32 {
        scatter::<32, ONES>(gr, j, x, nz, gw);
        j += 32;
    }
    if n_out - j >= 16 {
        scatter::<16, ONES>(gr, j, x, nz, gw);
        j += 16;
    }
    if n_out - j >= 8 {
        scatter::<8, ONES>(gr, j, x, nz, gw);
        j += 8;
    }
    if n_out - j >= 4 {
        scatter::<4, ONES>(gr, j, x, nz, gw);
        j += 4;
    }
    match n_out - j {
        3 => scatter::<3, ONES>(gr, j, x, nz, gw),
        2 => scatter::<2, ONES>(gr, j, x, nz, gw),
        1 => scatter::<1, ONES>(gr, j, x, nz, gw),
        _ => {}
    }
}

/// `gw[k][j..j + N] += x[k] * gr[j..j + N]` for each nonzero `x[k]`;
/// with `ONES`, every nonzero `x[k]` is 1.0 and the multiply, exact, is
/// left out (see [`combine`]).
#[inline(always)]
fn scatter<const N: usize, const ONES: bool>(
    gr: &[f32],
    j: usize,
    x: &[f32],
    words: &[u64],
    gw: &mut [f32],
) {
    let n_out = gr.len();
    let gr: &[f32; N] = gr[j..j + N].try_into().expect("N gradients");
    for (c, &word) in words.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let k = c * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let v = x[k];
            let dst: &mut [f32; N] = (&mut gw[k * n_out + j..][..N])
                .try_into()
                .expect("N weights");
            if ONES {
                for c in 0..N {
                    dst[c] += gr[c];
                }
            } else {
                for c in 0..N {
                    dst[c] += v * gr[c];
                }
            }
        }
    }
}

dispatch!(input_grads => input_grads_body(
    wt: &[f32],
    g: &[f32],
    input: &[f32],
    rows: usize,
    zeros: &[f32],
    words: &mut [u64],
    g_in: &mut [f32],
));

/// The gradient at a layer's input, through the ReLU before it:
/// `g_in[r] = 0 + sum_j g[r][j] w^T[j]`, over the nonzero `g[r][j]`, `j`
/// ascending, zeroed where the unit was off (`wt` is `w` transposed).
#[inline(always)]
fn input_grads_body<const W: usize>(
    wt: &[f32],
    g: &[f32],
    input: &[f32],
    rows: usize,
    zeros: &[f32],
    words: &mut [u64],
    g_in: &mut [f32],
) {
    let n_in = zeros.len();
    let n_out = wt.len() / n_in;
    for r in 0..rows {
        let gr = &g[r * n_out..][..n_out];
        let nz = nonzero_words(gr, words);
        let gi = &mut g_in[r * n_in..][..n_in];
        combine::<W, false>(wt, n_in, zeros, gr, nz, gi);
        for (gi, &h) in gi.iter_mut().zip(&input[r * n_in..][..n_in]) {
            if h <= 0.0 {
                *gi = 0.0;
            }
        }
    }
}

impl Frozen {
    /// Hidden layers: He-uniform; the output layer is scaled by `out_gain`
    /// (small for policy heads, so the first policy is near uniform).
    pub fn new(sizes: &[usize], out_gain: f32, rng: &mut ChaCha8Rng) -> candle_core::Result<Mlp> {
        let mut layers = vec![];
        for (k, pair) in sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let last = k + 2 == sizes.len();
            let bound = (6.0 / fan_in as f32).sqrt() * if last { out_gain } else { 1.0 };
            let w: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * bound)
                .collect();
            layers.push((w, vec![0.0; fan_out]));
        }
        Ok(Frozen {
            sizes: sizes.to_vec(),
            layers,
        })
    }

    /// Projects the weights onto the monotone networks (the nearest point
    /// in Euclidean distance, layer by layer): hidden weights at least 0,
    /// and in the output layer, per head of `classes` outputs, each
    /// hidden unit's weight to class 0 at least its weight to the last
    /// class (both set to their mean where it is not). ReLU never falls,
    /// so every hidden unit never falls as an input grows, and class 0's
    /// logit minus the last class's is a sum of them with non-negative
    /// weights. Biases are free.
    pub fn project_monotone(&mut self, classes: usize) {
        let last = self.layers.len() - 1;
        for (w, _) in &mut self.layers[..last] {
            for x in w.iter_mut() {
                *x = x.max(0.0);
            }
        }
        let n_out = self.outputs();
        let (w, _) = &mut self.layers[last];
        for row in w.chunks_exact_mut(n_out) {
            for head in row.chunks_exact_mut(classes) {
                let (act, idle) = (head[0], head[classes - 1]);
                if act < idle {
                    let mean = 0.5 * (act + idle);
                    head[0] = mean;
                    head[classes - 1] = mean;
                }
            }
        }
    }

    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    pub fn outputs(&self) -> usize {
        *self.sizes.last().unwrap()
    }

    /// A copy for acting.
    pub fn frozen(&self) -> candle_core::Result<Frozen> {
        Ok(self.clone())
    }

    /// Forward pass of `rows` inputs (`x` is `rows * inputs`) into `out`
    /// (`rows * outputs`), one row at a time through two scratch rows.
    pub fn forward(&self, x: &[f32], rows: usize, scratch: &mut [Vec<f32>; 2], out: &mut Vec<f32>) {
        let width = self.sizes.iter().copied().max().unwrap();
        let hidden = &mut scratch[0];
        hidden.resize(2 * width, 0.0);
        out.resize(rows * self.outputs(), 0.0);
        with_scratch(width, |words, group| {
            forward_rows(Level::detect(), self, x, rows, hidden, words, group, out)
        });
    }

    /// Forward pass keeping every layer's activations for [`Frozen::backward`]:
    /// `acts[k]` is layer `k`'s output (after ReLU for hidden layers), so
    /// the last is the network's. The same arithmetic as [`Frozen::forward`].
    pub fn forward_train(&self, x: &[f32], rows: usize, acts: &mut Vec<Vec<f32>>) {
        acts.resize(self.layers.len(), vec![]);
        let width = self.sizes.iter().copied().max().unwrap();
        with_scratch(width, |words, group| {
            for (k, (w, b)) in self.layers.iter().enumerate() {
                let (done, rest) = acts.split_at_mut(k);
                let input = if k == 0 { x } else { &done[k - 1][..] };
                let out = &mut rest[0];
                out.resize(rows * self.sizes[k + 1], 0.0);
                let hidden = k + 1 < self.layers.len();
                let level = Level::detect();
                layer_rows(level, w, b, input, rows, hidden, words, group, out);
            }
        });
    }

    /// Gradients of the weights, given the input `x` and the activations
    /// of [`Frozen::forward_train`], and `grad_out`, the loss's gradient with
    /// respect to the outputs (`rows * outputs`). `grads` gets
    /// one `(w, b)` pair per layer, shaped like the weights. Every sum runs
    /// over the rows in ascending order.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        acts: &[Vec<f32>],
        rows: usize,
        grad_out: &[f32],
        scratch: &mut BackScratch,
        grads: &mut Vec<(Vec<f32>, Vec<f32>)>,
    ) {
        let level = Level::detect();
        grads.resize(self.layers.len(), (vec![], vec![]));
        let width = self.sizes.iter().copied().max().unwrap();
        let BackScratch {
            wt,
            g_in,
            g_next,
            zeros,
            words,
        } = scratch;
        words.resize(width.div_ceil(64), 0);
        zeros.clear();
        zeros.resize(width, 0.0);
        // The gradient arrays only grow: every entry used is written first,
        // so shrinking and regrowing them would clear memory for nothing.
        let grow = |v: &mut Vec<f32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        };
        for k in (0..self.layers.len()).rev() {
            let (n_in, n_out) = (self.sizes[k], self.sizes[k + 1]);
            let (w, _) = &self.layers[k];
            let (gw, gb) = &mut grads[k];
            gw.resize(n_in * n_out, 0.0);
            gb.resize(n_out, 0.0);
            let input = if k == 0 { x } else { &acts[k - 1][..] };
            let g: &[f32] = if k + 1 == self.layers.len() {
                &grad_out[..rows * n_out]
            } else {
                &g_in[..rows * n_out]
            };
            weight_grads(level, input, g, rows, words, gw, gb);
            if k == 0 {
                break;
            }
            grow(wt, n_in * n_out);
            for i in 0..n_in {
                for j in 0..n_out {
                    wt[j * n_in + i] = w[i * n_out + j];
                }
            }
            grow(g_next, rows * n_in);
            let zeros = &zeros[..n_in];
            input_grads(
                level,
                &wt[..n_in * n_out],
                g,
                input,
                rows,
                zeros,
                words,
                g_next,
            );
            std::mem::swap(g_in, g_next);
        }
    }

    /// Every weight array, in the optimiser's order: `w`, `b` per layer.
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Vec<f32>> {
        self.layers.iter_mut().flat_map(|(w, b)| [w, b])
    }

    /// The sizes of [`Frozen::params_mut`]'s arrays.
    pub fn param_lens(&self) -> Vec<usize> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.len(), b.len()])
            .collect()
    }

    /// Named arrays for a checkpoint: `{prefix}.{k}.w` (`[in, out]`), `{prefix}.{k}.b`.
    pub fn named(&self, prefix: &str) -> Vec<(String, NamedArray)> {
        let mut out = vec![];
        for (k, (w, b)) in self.layers.iter().enumerate() {
            let dims = vec![self.sizes[k], self.sizes[k + 1]];
            out.push((format!("{prefix}.{k}.w"), (dims, w.clone())));
            out.push((format!("{prefix}.{k}.b"), (vec![b.len()], b.clone())));
        }
        out
    }

    /// Replaces the weights with the named tensors of a checkpoint
    /// (`get` gives shape and values); shapes must match.
    pub fn load(
        &mut self,
        prefix: &str,
        get: &dyn Fn(&str) -> Option<NamedArray>,
    ) -> Result<(), String> {
        for k in 0..self.layers.len() {
            let want = [
                vec![self.sizes[k], self.sizes[k + 1]],
                vec![self.sizes[k + 1]],
            ];
            for (part, want) in ["w", "b"].into_iter().zip(want) {
                let name = format!("{prefix}.{k}.{part}");
                let (dims, values) = get(&name).ok_or_else(|| format!("no tensor {name}"))?;
                if dims != want {
                    return Err(format!(
                        "{name} has shape {dims:?}, the config needs {want:?}"
                    ));
                }
                let slot = if part == "w" {
                    &mut self.layers[k].0
                } else {
                    &mut self.layers[k].1
                };
                slot.copy_from_slice(&values);
            }
        }
        Ok(())
    }
}

/// A checkpoint's array: shape and values.
pub type NamedArray = (Vec<usize>, Vec<f32>);

/// Reusable buffers for [`Frozen::backward`].
#[derive(Default)]
pub struct BackScratch {
    wt: Vec<f32>,
    g_in: Vec<f32>,
    g_next: Vec<f32>,
    zeros: Vec<f32>,
    words: Vec<u64>,
}

#[cfg(test)]
pub(crate) mod tests;
