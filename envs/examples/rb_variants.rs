//! States of one search of Bracha's protocol with rules the learned
//! protocols add (`protocols::bracha::Extra`), for measuring what each
//! costs the verifier: `cargo run --release -p selfplay-envs --example
//! rb_variants -- N F [echo_on_echo] [echo_on_ready] [ready_on_init]
//! [deliver_on_quorum]`.

use envs::broadcast::game::{RbFaults, RbSpec};
use envs::broadcast::protocols::bracha::{self, Extra};
use envs::broadcast::search::{self, Limits};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args[0].parse().expect("N");
    let f: usize = args[1].parse().expect("F");
    let extra: Vec<Extra> = args[2..]
        .iter()
        .map(|a| {
            let known = Extra::ALL.into_iter().find(|e| e.name() == a);
            known.unwrap_or_else(|| panic!("{a}: not one of {:?}", Extra::ALL.map(Extra::name)))
        })
        .collect();
    let spec = RbSpec::new(n, f, RbFaults::Byzantine).expect("n > f");
    let names: Vec<&str> = extra.iter().map(|e| e.name()).collect();
    let t = std::time::Instant::now();
    match search::verify(&spec, &bracha::with(&extra), &Limits::default()) {
        Ok(r) => {
            let each: Vec<u64> = r.per_instance.iter().map(|i| i.states).collect();
            println!(
                "bracha + {names:?} n={n} f={f}: verified {} broken {:?} states {} \
                 (per instance {each:?}) in {:.1} s",
                r.verified,
                r.broken,
                r.states,
                t.elapsed().as_secs_f64()
            );
        }
        Err(e) => println!("bracha + {names:?} n={n} f={f}: {e}"),
    }
}
