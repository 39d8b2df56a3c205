//! What the notifications still due of a run read that the process delivering them must be
//! given: the inputs their templates name and the environment variables their webhooks are
//! made of, as a pure function of the run's `notify:` and which of it is due.

use std::collections::BTreeSet;

use super::notify::{NotificationRef, notification};
use crate::definition::template::{Reference, scan};
use crate::definition::{Notify, WebhookPart, webhook_parts};

/// What the notifications `due` read: the inputs their templates name (a secret one the log
/// keeps only as `***`) and the environment variables their webhooks take a part from
/// (`$VAR`, `${VAR}`). Only those due: a command left due does not wait for an input that
/// only a webhook delivered already read. A process without them leaves the run's
/// notifications due for one given them (a delivery made without would be used up on a value
/// it cannot know, never to be made: `ops::notify::deliverable`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DueNeeds {
    pub inputs: BTreeSet<String>,
    pub env: BTreeSet<String>,
}

/// What the notifications of `notify` named by `due` read (`DueNeeds`).
pub fn due_needs(notify: &Notify, due: &[NotificationRef]) -> DueNeeds {
    let mut needs = DueNeeds::default();
    for n in due.iter().filter_map(|&r| notification(notify, r)) {
        for text in n.run.iter().chain(n.webhook.iter()) {
            needs
                .inputs
                .extend(scan(text).into_iter().filter_map(|o| match o.reference {
                    Ok(Reference::Input(name)) => Some(name),
                    _ => None,
                }));
        }
        if let Some(Ok(parts)) = n.webhook.as_deref().map(webhook_parts) {
            needs.env.extend(parts.into_iter().filter_map(|p| match p {
                WebhookPart::Env(name) => Some(name.to_string()),
                _ => None,
            }));
        }
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::Notification;
    use crate::plan::Trigger;

    fn webhook(url: &str) -> Notification {
        Notification {
            webhook: Some(url.into()),
            ..Notification::default()
        }
    }

    fn names(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn only_the_notifications_due_are_read() {
        let notify = Notify {
            on_failure: vec![webhook("${{ inputs.hook }}")],
            on_finish: vec![
                webhook("https://$HOST/x?token=${HOOK_TOKEN}"),
                Notification {
                    run: Some("echo done".into()),
                    ..Notification::default()
                },
            ],
        };
        assert_eq!(
            due_needs(&notify, &[(Trigger::OnFinish, 0), (Trigger::OnFinish, 1)]),
            DueNeeds {
                inputs: BTreeSet::new(),
                env: names(&["HOOK_TOKEN", "HOST"]),
            }
        );
        assert_eq!(
            due_needs(&notify, &[(Trigger::OnFailure, 0), (Trigger::OnFinish, 1)]),
            DueNeeds {
                inputs: names(&["hook"]),
                env: BTreeSet::new(),
            }
        );
        // One the definition no longer has (it changed under a record) reads nothing.
        assert_eq!(
            due_needs(&notify, &[(Trigger::OnFailure, 5)]),
            DueNeeds::default()
        );
    }
}
