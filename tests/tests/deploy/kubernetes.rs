//! `deploy/kubernetes/`: `kubernetes-validate --strict` on every core
//! object (Deployments, Services, PodDisruptionBudgets, ConfigMaps), and
//! `check-manifests` on what no schema says: the KEDA objects (whose CRDs
//! kubernetes-validate does not know) and the links between the objects.

use crate::support;
use std::process::Command;

/// The files of core objects; keda.yaml and kustomization.yaml hold kinds
/// kubernetes-validate has no schema for.
const CORE: [&str; 4] = [
    "config.yaml",
    "gateway.yaml",
    "worker-credentials.yaml",
    "worker-mailbox.yaml",
];

#[test]
fn kubernetes_validate_passes_every_core_object_strictly() {
    let files: Vec<_> = CORE
        .iter()
        .map(|file| support::deploy(&format!("kubernetes/{file}")))
        .collect();
    let printed = support::run(
        Command::new(support::venv_tool("kubernetes-validate"))
            .arg("--strict")
            .args(&files),
    );
    let lines: Vec<&str> = printed.lines().collect();
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("INFO") && line.contains(" passed ")),
        "{printed}"
    );
    // 3 ConfigMaps; 3 Deployments; 2 Services; 3 PodDisruptionBudgets.
    assert_eq!(lines.len(), 11, "{printed}");
}

#[test]
fn the_manifests_fit_each_other_and_keda_scales_each_pool_on_its_queue() {
    let printed = support::run(
        Command::new(support::venv_tool("python"))
            .arg(support::deploy("kubernetes/check-manifests")),
    );
    assert!(printed.contains(", 0 problems"), "{printed}");
}

#[test]
fn check_manifests_finds_a_scaled_object_on_the_wrong_queue() {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(support::deploy("kubernetes")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    let keda = copy.path().join("keda.yaml");
    let text = std::fs::read_to_string(&keda).unwrap();
    let wrong = text.replace(
        "queueName: latchkey.mailbox",
        "queueName: latchkey.credentials",
    );
    assert_ne!(text, wrong);
    std::fs::write(&keda, wrong).unwrap();
    let output = support::output(
        Command::new(support::venv_tool("python"))
            .arg(support::deploy("kubernetes/check-manifests"))
            .arg(copy.path()),
    );
    let printed = support::printed(&output);
    assert!(!output.status.success(), "{printed}");
    assert!(
        printed.contains("watches latchkey.credentials, the pool consumes latchkey.mailbox"),
        "{printed}"
    );
}

#[test]
fn kustomize_renders_the_manifests_when_kubectl_is_here() {
    let Ok(output) = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
    else {
        eprintln!("kubectl is not installed: kustomize rendering not checked");
        return;
    };
    assert!(output.status.success());
    let rendered = support::run(Command::new("kubectl").args(["kustomize", "deploy/kubernetes"]));
    let objects = rendered
        .lines()
        .filter(|line| line.starts_with("kind: "))
        .count();
    assert_eq!(objects, 14, "{rendered}");
}
