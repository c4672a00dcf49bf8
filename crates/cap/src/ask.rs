//! Permission questions put to the person at this terminal.

use cap_proto::event::PermissionEvent;
use cap_proto::request::DecideRequest;

/// Asks about `p` on stderr and reads the answer from stdin, off the caller's thread so its
/// stream (and Ctrl-C) go on; `answered` gets the decision. An unreadable terminal means no.
pub fn question(p: &PermissionEvent, answered: impl FnOnce(DecideRequest) + Send + 'static) {
    let what = match &p.tool.subject {
        Some(s) => format!("{}: {s}", p.tool.tool),
        None => p.tool.tool.clone(),
    };
    let id = p.id.clone();
    std::thread::spawn(move || {
        let (allow, always) = loop {
            eprint!("Allow {what}? [y]es / [n]o / [a]lways for this session: ");
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => break (false, false),
                Ok(_) => {}
            }
            match parse(&line) {
                Some(answer) => break answer,
                None => continue,
            }
        };
        answered(DecideRequest {
            question: id,
            allow,
            always,
        });
    });
}

/// `(allow, always)` for an answer, `None` for anything else (asked again).
fn parse(line: &str) -> Option<(bool, bool)> {
    match line.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Some((true, false)),
        "n" | "no" => Some((false, false)),
        "a" | "always" => Some((true, true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_are_yes_no_or_always_and_anything_else_is_asked_again() {
        assert_eq!(super::parse("y\n"), Some((true, false)));
        assert_eq!(super::parse(" NO "), Some((false, false)));
        assert_eq!(super::parse("a"), Some((true, true)));
        assert_eq!(super::parse("maybe"), None);
    }
}
