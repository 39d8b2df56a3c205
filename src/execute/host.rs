//! Facts about this machine and its user, for the audit trail: the host name and the
//! default actor (`user@host`).

/// This machine's host name (`localhost` if it has none that is UTF-8).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The most characters an actor has, whoever names it: `--actor` longer than this is refused
/// (exit 2) by every command that takes it (the CLI's, `tui`, `serve`, `mcp`); the actors
/// cortex makes fit it (`mcp:` and a client's name cut at 64, `worker:` and a worker's name,
/// a tag of at most 64, `user@host` cut here).
pub const MAX_ACTOR_CHARS: usize = 128;

/// Who acts when nobody says: `user@host`, the user from `USER`, else the account (cut to
/// `MAX_ACTOR_CHARS`).
pub fn default_actor() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".into());
    one_line(&format!("{user}@{}", hostname()))
        .chars()
        .take(MAX_ACTOR_CHARS)
        .collect()
}

/// An actor is one line (`--actor` refuses anything else): a control or bidirectional
/// character from the environment becomes `?`, so that the default is always one that
/// `--actor` would take (the server hands it to its background drivers that way).
fn one_line(actor: &str) -> String {
    actor
        .chars()
        .map(|c| {
            if crate::render::breaks_line(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_actor_is_one_line_whatever_the_environment_holds() {
        assert_eq!(super::one_line("bob\nx\u{202e}@host"), "bob?x?@host");
        assert_eq!(super::one_line("bob@host"), "bob@host");
    }
}
