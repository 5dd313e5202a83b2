//! Standard output for commands whose output is the result (`verify`,
//! `explain`, `plot`, `bench`). A closed stdout (`selfplay explain X | head -1`)
//! means nobody reads on: the command exits quietly with status 0, as `cat`
//! and ripgrep do, instead of panicking. Training runs use
//! [`crate::out::sayer`] instead, which goes on: their files are the results.

use std::io::Write;

/// Writes `args` to stdout and flushes; on a closed pipe, exits 0 at once.
/// Any other write error is reported and exits 2 (the CLI's error status).
pub fn emit(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(2);
    }
}

/// `print!` that exits quietly on a closed stdout (see [`emit`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::emit(format_args!($($arg)*))
    };
}

/// `println!` that exits quietly on a closed stdout (see [`emit`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::out::emit(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a line unless quiet. A closed stdout (`| head`) is not an error
/// worth losing a run over: the files are the results.
pub fn sayer(quiet: bool) -> impl Fn(String) {
    move |s| {
        if !quiet {
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "{s}");
        }
    }
}
