//! Shell completion scripts (`cortex completions SHELL`), made by clap_complete from the
//! command line as its help shows it: what the help hides (`resume --drive-on`, for front
//! ends, not for people) is not offered either. clap_complete offers every argument, hidden or
//! not, so the command it is given is a copy without the hidden ones.

use clap::{ArgGroup, Command};

/// The completion script of `shell`.
pub fn script(shell: clap_complete::Shell) -> String {
    let mut cmd = without_hidden(&<super::Cli as clap::CommandFactory>::command());
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cortex", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `cmd` and its subcommands as completion sees them: their names, aliases, descriptions and
/// visible arguments (groups keep their visible members, so that what names them still holds).
fn without_hidden(cmd: &Command) -> Command {
    let shown: Vec<_> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .cloned()
        .collect();
    let groups = cmd.get_groups().map(|g| {
        let members = g
            .get_args()
            .filter(|id| shown.iter().any(|a| a.get_id() == *id))
            .cloned();
        ArgGroup::new(g.get_id().clone())
            .args(members)
            .multiple(g.clone().is_multiple())
            .required(g.is_required_set())
    });
    let mut copy = Command::new(cmd.get_name().to_owned())
        .visible_aliases(
            cmd.get_visible_aliases()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
        .hide(cmd.is_hide_set())
        .propagate_version(cmd.is_propagate_version_set())
        .args(shown.clone())
        .groups(groups.collect::<Vec<_>>())
        .subcommands(
            cmd.get_subcommands()
                .map(without_hidden)
                .collect::<Vec<_>>(),
        );
    if let Some(about) = cmd.get_about() {
        copy = copy.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        copy = copy.long_about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        copy = copy.version(version.to_owned());
    }
    copy
}
