//! The workflow templates that ship inside the binary; user files of the same name win.

/// (name, YAML) of every built-in workflow.
pub const BUILTIN_WORKFLOWS: &[(&str, &str)] = &[
    (
        "feature-development",
        include_str!("builtin/feature-development.yaml"),
    ),
    ("onboarding", include_str!("builtin/onboarding.yaml")),
    ("migration", include_str!("builtin/migration.yaml")),
];

/// The YAML of a built-in workflow.
pub fn builtin_workflow(name: &str) -> Option<&'static str> {
    BUILTIN_WORKFLOWS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
