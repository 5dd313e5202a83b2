//! Imbs and Raynal's two-step reliable broadcast (2016): INIT, then
//! WITNESS, which is our ECHO. Built for n > 5f; below that it may fall.

use super::Scripted;
use crate::broadcast::game::{Decision, Msg};

/// The sender sends INIT v; on the sender's INIT v, or on n - 2f WITNESS
/// v, WITNESS v (once per value: an agent may witness both); on n - f
/// WITNESS v, deliver v.
pub const IMBS_RAYNAL: Scripted = Scripted {
    name: "imbs_raynal",
    rule: |spec, view| {
        let mut d = Decision::default();
        if let Some(v) = view.input {
            d = d.send(Msg::init(v));
        }
        if let Some(v) = view.init {
            d = d.send(Msg::echo(v));
        }
        let (n, f) = (spec.n, spec.f);
        for v in 0..2 {
            if view.count(Msg::echo(v)) + 2 * f >= n {
                d = d.send(Msg::echo(v));
            }
        }
        for v in 0..2 {
            if view.count(Msg::echo(v)) + f >= n {
                d = d.deliver(v);
                break;
            }
        }
        d
    },
};
