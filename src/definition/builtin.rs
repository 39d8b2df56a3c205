//! What ships inside the binary — the workflow templates, and the agents the seed's scenarios
//! name — so that seed 001 works as written on a fresh home. A user's file of the same name
//! (in the home, or for agents the project's `.claude/agents/`) wins.

/// (name, YAML) of every built-in workflow.
pub const BUILTIN_WORKFLOWS: &[(&str, &str)] = &[
    (
        "feature-development",
        include_str!("builtin/feature-development.yaml"),
    ),
    ("onboarding", include_str!("builtin/onboarding.yaml")),
    ("migration", include_str!("builtin/migration.yaml")),
    // Seed 001 part 1 runs it by name.
    (
        "code-modernization",
        include_str!("builtin/code-modernization.yaml"),
    ),
];

/// The YAML of a built-in workflow.
pub fn builtin_workflow(name: &str) -> Option<&'static str> {
    BUILTIN_WORKFLOWS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// (name, Markdown) of every built-in agent: the agents seed 001's scenarios name, kept in
/// `examples/agents/` as the files a user would write.
pub const BUILTIN_AGENTS: &[(&str, &str)] = &[
    (
        "api-documenter",
        include_str!("../../examples/agents/api-documenter.md"),
    ),
    (
        "architect-reviewer",
        include_str!("../../examples/agents/architect-reviewer.md"),
    ),
    (
        "code-reviewer",
        include_str!("../../examples/agents/code-reviewer.md"),
    ),
    (
        "database-admin",
        include_str!("../../examples/agents/database-admin.md"),
    ),
    (
        "database-optimizer",
        include_str!("../../examples/agents/database-optimizer.md"),
    ),
    (
        "performance-engineer",
        include_str!("../../examples/agents/performance-engineer.md"),
    ),
    (
        "python-pro",
        include_str!("../../examples/agents/python-pro.md"),
    ),
    (
        "quality-engineer",
        include_str!("../../examples/agents/quality-engineer.md"),
    ),
    (
        "react-specialist",
        include_str!("../../examples/agents/react-specialist.md"),
    ),
    (
        "security-auditor",
        include_str!("../../examples/agents/security-auditor.md"),
    ),
    (
        "system-architect",
        include_str!("../../examples/agents/system-architect.md"),
    ),
    (
        "technical-writer",
        include_str!("../../examples/agents/technical-writer.md"),
    ),
    (
        "test-automator",
        include_str!("../../examples/agents/test-automator.md"),
    ),
    (
        "ui-ux-designer",
        include_str!("../../examples/agents/ui-ux-designer.md"),
    ),
];
