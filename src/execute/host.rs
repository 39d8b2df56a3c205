//! Facts about this machine and its user, for the audit trail: the host name and the
//! default actor (`user@host`).

/// This machine's host name (`localhost` if it has none that is UTF-8).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Who acts when nobody says: `user@host`, the user from `USER`, else the account.
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
    format!("{user}@{}", hostname())
}
