//! States of one search of Bracha's protocol with rules added, for
//! measuring what a rule costs the verifier (the learned protocols have
//! such rules): `cargo run --release -p selfplay-envs --example
//! rb_variants -- N F [echo_on_echo] [echo_on_ready] [ready_on_init]
//! [deliver_on_quorum]`.
//!
//! - `echo_on_echo`: ECHO v on f + 1 ECHO v;
//! - `echo_on_ready`: ECHO v on f + 1 READY v;
//! - `ready_on_init`: READY v on INIT v (hasty: totality breaks);
//! - `deliver_on_quorum`: deliver on ceil((n + f + 1) / 2) READY v, not 2f + 1.

use envs::broadcast::game::{Decision, Kind, Msg, RbFaults, RbProtocol, RbSpec, View};
use envs::broadcast::grammar::Dest;
use envs::broadcast::search::{self, Limits};
use envs::broadcast::threshold::{Act, Atom, Rule, Threshold, ThresholdForm};

struct Rules(ThresholdForm);

impl RbProtocol for Rules {
    fn name(&self) -> String {
        "bracha_with_rules".into()
    }
    fn act(&self, spec: &RbSpec, view: &View) -> Decision {
        self.0.decide(spec, view)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args[0].parse().expect("N");
    let f: usize = args[1].parse().expect("F");
    let added: Vec<&str> = args[2..].iter().map(|s| s.as_str()).collect();
    let has = |name: &str| added.contains(&name);
    let spec = RbSpec::new(n, f, RbFaults::Byzantine).expect("n > f");
    let all = |m, t| Atom::AtLeast(m, t);
    let send = |m| Act::Send(m, Dest::All);
    let mut rules = vec![];
    for v in 0..2u8 {
        rules.push(Rule::new(&[Atom::Input(v)], send(Msg::new(Kind::Init, v))));
    }
    for v in 0..2u8 {
        rules.push(Rule::new(&[Atom::Init(v)], send(Msg::echo(v))));
        if has("echo_on_echo") {
            rules.push(Rule::new(
                &[all(Msg::echo(v), Threshold::T_PLUS_1)],
                send(Msg::echo(v)),
            ));
        }
        if has("echo_on_ready") {
            rules.push(Rule::new(
                &[all(Msg::ready(v), Threshold::T_PLUS_1)],
                send(Msg::echo(v)),
            ));
        }
    }
    for v in 0..2u8 {
        let quorum = all(Msg::echo(v), Threshold::MORE_THAN_HALF);
        rules.push(Rule::new(&[quorum], send(Msg::ready(v))));
        rules.push(Rule::new(
            &[all(Msg::ready(v), Threshold::T_PLUS_1)],
            send(Msg::ready(v)),
        ));
        if has("ready_on_init") {
            rules.push(Rule::new(&[Atom::Init(v)], send(Msg::ready(v))));
        }
    }
    let deliver = match has("deliver_on_quorum") {
        true => Threshold::MORE_THAN_HALF,
        false => Threshold::TWO_T_PLUS_1,
    };
    for v in 0..2u8 {
        rules.push(Rule::new(&[all(Msg::ready(v), deliver)], Act::Deliver(v)));
    }
    let p = Rules(ThresholdForm {
        rules,
        once: vec![Kind::Echo, Kind::Ready],
    });
    let t = std::time::Instant::now();
    match search::verify(&spec, &p, &Limits::default()) {
        Ok(r) => {
            let each: Vec<u64> = r.per_instance.iter().map(|i| i.states).collect();
            println!(
                "bracha + {added:?} n={n} f={f}: verified {} broken {:?} states {} \
                 (per instance {each:?}) in {:.1} s",
                r.verified,
                r.broken,
                r.states,
                t.elapsed().as_secs_f64()
            );
        }
        Err(e) => println!("bracha + {added:?} n={n} f={f}: {e}"),
    }
}
