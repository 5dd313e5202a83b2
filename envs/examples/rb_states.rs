//! States and time of one reliable-broadcast search per instance class,
//! for measuring reductions: `cargo run --release -p selfplay-envs --example
//! rb_states -- PROTOCOL N F [byzantine|crash] [OPTION=0|1 ...]`.

use envs::broadcast::game::{self, RbFaults, RbSpec};
use envs::broadcast::protocols;
use envs::broadcast::search::{self, Limits, Options};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let p = protocols::scripted(&args[0]).expect("protocol");
    let n: usize = args[1].parse().unwrap();
    let f: usize = args[2].parse().unwrap();
    let crash = args.iter().any(|a| a == "crash");
    let faults = if crash {
        RbFaults::Crash
    } else {
        RbFaults::Byzantine
    };
    let spec = RbSpec::new(n, f, faults).unwrap();
    let mut o = Options::default();
    for a in args.iter().skip(3).filter(|a| a.contains('=')) {
        let (k, v) = a.split_once('=').unwrap();
        let v = v == "1";
        match k {
            "symmetry" => o.symmetry = v,
            "sleep" => o.sleep_sets = v,
            "values" => o.values = v,
            "retire" => o.retire = v,
            "eager" => o.eager = v,
            "correct_first" => o.correct_first = v,
            "lazy" => o.lazy = v,
            _ => panic!("{k}"),
        }
    }
    let t = std::time::Instant::now();
    let r = search::verify_with(&spec, p, &Limits::default(), &o);
    match r {
        Ok(r) => {
            println!(
                "{} n={n} f={f}: verified {} broken {:?} states {} in {:.2} s",
                p.name,
                r.verified,
                r.broken,
                r.states,
                t.elapsed().as_secs_f64()
            );
            for (k, v) in r.per_instance.iter().enumerate() {
                if v.same_as.is_none() {
                    let inst = game::instances(&spec)[k];
                    println!(
                        "  {}: {} states {:?}",
                        search::describe(&spec, &inst),
                        v.states,
                        v.broken
                    );
                }
            }
        }
        Err(e) => println!("{e}"),
    }
}
