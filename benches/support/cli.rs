//! The command line of the load and flood clients (`scripts/bench.sh`,
//! `scripts/flood.sh`): `--flag value` pairs and an `http://` target.

/// `cargo test --all-targets` runs every bench target once, with no
/// arguments: the client then says what it is for and exits.
pub fn exit_when_run_as_a_test(note: &str) {
    if std::env::args().len() == 1 {
        println!("{note}");
        std::process::exit(0);
    }
}

/// The flags of the command line, each read with its value; `--bench`
/// (passed by `cargo bench`) is skipped. `usage` reports a problem and exits.
pub struct Flags {
    args: std::iter::Skip<std::env::Args>,
    usage: fn(&str) -> !,
}

impl Flags {
    pub fn new(usage: fn(&str) -> !) -> Flags {
        Flags {
            args: std::env::args().skip(1),
            usage,
        }
    }

    pub fn next_flag(&mut self) -> Option<String> {
        self.args.by_ref().find(|a| a != "--bench")
    }

    pub fn value(&mut self, flag: &str) -> String {
        let usage = self.usage;
        self.args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
    }

    /// A finite, non-negative number.
    pub fn number(&mut self, flag: &str) -> f64 {
        let v = self.value(flag);
        v.parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0)
            .unwrap_or_else(|| (self.usage)(&format!("{v:?} is not a non-negative number")))
    }

    pub fn unknown(&self, flag: &str) -> ! {
        (self.usage)(&format!("unknown argument {flag:?}"))
    }
}

/// `http://HOST[:PORT][/PATH]` as its host and its path (`/` when none).
pub fn host_and_path(url: &str, usage: fn(&str) -> !) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| usage("only http:// URLs"));
    match rest.find('/') {
        Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    }
}
