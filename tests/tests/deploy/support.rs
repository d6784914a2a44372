//! Paths of the repository and of the validators, and running them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// `deploy/<path>`.
pub fn deploy(path: &str) -> PathBuf {
    root().join("deploy").join(path)
}

/// The program `name` of the validators' virtual environment
/// (`.local/venv/bin/<name>`), which `deploy/local/ensure-deps --tests` makes.
pub fn venv_tool(name: &str) -> PathBuf {
    let tool = root().join(".local/venv/bin").join(name);
    assert!(
        tool.exists(),
        "{} is missing: run deploy/local/ensure-deps --tests (deploy/local/test does)",
        tool.display()
    );
    tool
}

/// `target/<profile>/<name>`, built by `cargo build --bins` (which
/// `deploy/local/test` runs).
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join(name);
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --bins` first (deploy/local/test does)",
        binary.display()
    );
    binary
}

/// Runs `command` from the repository's root and returns what it printed;
/// panics with that output unless it succeeded.
pub fn run(command: &mut Command) -> String {
    let output = output(command);
    let text = printed(&output);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{text}",
        output.status
    );
    text
}

/// Runs `command` like [`run`] and returns its standard output alone.
pub fn run_for_stdout(command: &mut Command) -> String {
    let output = output(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}",
        output.status,
        printed(&output)
    );
    String::from_utf8(output.stdout).expect("text")
}

/// Runs `command` from the repository's root.
pub fn output(command: &mut Command) -> Output {
    command
        .current_dir(root())
        .output()
        .unwrap_or_else(|error| panic!("{command:?} does not run: {error}"))
}

/// Standard output and standard error, one after the other.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file below `dir`, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
