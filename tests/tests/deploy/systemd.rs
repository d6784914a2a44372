//! `deploy/systemd/`: `systemd-analyze verify` and `security` on the units
//! as installed, and what the units promise (hardening, credentials, the
//! one writable path of the mailbox worker).
//!
//! `verify` needs the programs of `ExecStart=` and the units they depend on
//! to exist, so it runs with `--root` on a throwaway tree: the units where
//! they are installed (`/etc/systemd/system/`), the host's own units in
//! `/usr/lib/systemd/system/`, and a stand-in shell script at
//! `/usr/local/bin/latchkey-gateway` and `latchkey-worker` (verify only
//! checks that they are executable files).

use crate::support;
use std::path::Path;
use std::process::Command;

/// The units as `systemctl` would name them: the gateway and two instances
/// of the worker template (one with the mailbox drop-in).
const UNITS: [&str; 3] = [
    "latchkey-gateway.service",
    "latchkey-worker@credentials.service",
    "latchkey-worker@mailbox.service",
];

/// A root with the units installed; removed on drop.
fn installed_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    let bin = root.path().join("usr/local/bin");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(root.path().join("usr/lib/systemd")).unwrap();
    let host_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .find(|dir| Path::new(dir).join("sysinit.target").exists())
        .expect("the host's systemd units (package systemd)");
    copy(host_units, &root.path().join("usr/lib/systemd"));
    for entry in std::fs::read_dir(support::deploy("systemd")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".service") || name.ends_with(".service.d") {
            copy(path.to_str().unwrap(), &units);
        }
    }
    for program in ["latchkey-gateway", "latchkey-worker"] {
        let stand_in = bin.join(program);
        std::fs::write(&stand_in, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

fn copy(from: &str, to: &Path) {
    support::run(Command::new("cp").args(["-a", from]).arg(to));
}

fn analyze(root: &Path) -> Command {
    let mut command = Command::new("systemd-analyze");
    command.arg(format!("--root={}", root.display()));
    command
}

#[test]
fn systemd_analyze_verifies_the_units_without_a_word() {
    let root = installed_root();
    let output = support::output(analyze(root.path()).arg("verify").args(UNITS));
    let printed = support::printed(&output);
    assert!(
        output.status.success(),
        "systemd-analyze verify:\n{printed}"
    );
    // verify only warns about an unknown directive or a bad value: any line counts.
    assert!(
        printed.trim().is_empty(),
        "systemd-analyze verify:\n{printed}"
    );
}

#[test]
fn systemd_analyze_rates_each_unit_exposure_two_or_less() {
    let root = installed_root();
    for unit in UNITS {
        // --threshold is on the 0-100 scale; the overall level prints as 0-10.
        let output = support::output(
            analyze(root.path())
                .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
                .arg(unit),
        );
        let printed = support::printed(&output);
        let overall = printed
            .lines()
            .find(|line| line.contains("Overall exposure level"))
            .unwrap_or("no overall level");
        assert!(output.status.success(), "{unit}: {overall}\n{printed}");
        eprintln!("{overall}");
    }
}

/// The `Key=value` lines of a unit file (or drop-in), comments left out.
fn directives(file: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(support::deploy(&format!("systemd/{file}")))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with('['))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

fn values<'a>(directives: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    directives
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn each_unit_is_hardened_and_reads_its_secrets_from_credentials() {
    for unit in ["latchkey-gateway.service", "latchkey-worker@.service"] {
        let directives = directives(unit);
        let one = |key: &str| values(&directives, key);
        for (key, value) in [
            ("User", "latchkey"),
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("CapabilityBoundingSet", ""),
            ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ] {
            assert_eq!(one(key), [value], "{unit}: {key}");
        }
        assert!(
            one("SystemCallFilter").contains(&"@system-service"),
            "{unit}"
        );
        assert!(
            one("ReadWritePaths").is_empty(),
            "{unit} may write somewhere"
        );
        // Each credential is read through a *_FILE key, and each *_FILE key
        // names a credential.
        let credentials: Vec<&str> = one("LoadCredential")
            .into_iter()
            .map(|value| value.split_once(':').unwrap().0)
            .collect();
        let files: Vec<&str> = one("Environment")
            .into_iter()
            .filter_map(|value| value.split_once("_FILE=%d/"))
            .map(|(_, credential)| credential)
            .collect();
        assert_eq!(credentials, files, "{unit}");
        // The LDAP and broker passwords, the sealing and directory keys, and
        // for the gateway alone the session key.
        let gateway = unit.contains("gateway");
        assert_eq!(credentials.contains(&"session-key"), gateway, "{unit}");
        assert_eq!(credentials.len(), 4 + usize::from(gateway), "{unit}");
    }
}

#[test]
fn only_the_mailbox_worker_writes_and_only_below_the_maildir_template() {
    let drop_in = directives("latchkey-worker@mailbox.service.d/maildirs.conf");
    let writable = values(&drop_in, "ReadWritePaths");
    assert_eq!(writable.len(), 1, "{writable:?}");
    let config = std::fs::read_to_string(support::deploy("systemd/latchkey.toml")).unwrap();
    let template = config
        .lines()
        .find_map(|line| line.strip_prefix("maildir_template = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        template.starts_with(&format!("{}/", writable[0])),
        "maildir_template {template} is not below ReadWritePaths={}",
        writable[0]
    );
    assert_eq!(values(&drop_in, "User"), ["vmail"]);
}
