//! The answer of `/readyz`, the same on the gateway and the workers: 200
//! `{"ready":true,"down":[]}`, or 503 naming the dependencies that failed
//! their check, e.g. `{"ready":false,"down":["ldap"]}`. Why one failed goes
//! to the log and never into the answer: an error's text can name hosts,
//! service accounts and versions to whoever reaches the endpoint.

use http::StatusCode;
use serde::{Serialize, Serializer};

/// A dependency whose check decides readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// The directory (slapd).
    Ldap,
    /// The broker (RabbitMQ).
    Broker,
}

impl Dependency {
    /// Its name in answers and log lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ldap => "ldap",
            Self::Broker => "broker",
        }
    }
}

impl Serialize for Dependency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Whether a service may take work, built from one check per dependency.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// True exactly when `down` is empty.
    ready: bool,
    /// The dependencies that failed their check, in the order checked.
    down: Vec<Dependency>,
}

impl Default for Readiness {
    /// Nothing checked yet, so nothing is down.
    fn default() -> Self {
        Self {
            ready: true,
            down: Vec::new(),
        }
    }
}

impl Readiness {
    /// Adds the outcome of `dependency`'s check: a failure names it in the
    /// answer and logs its error.
    pub fn check<E: std::fmt::Display>(
        mut self,
        dependency: Dependency,
        checked: Result<(), E>,
    ) -> Self {
        if let Err(error) = checked {
            tracing::warn!(dependency = dependency.name(), %error, "not ready");
            self.ready = false;
            self.down.push(dependency);
        }
        self
    }

    /// 200 when ready, 503 otherwise.
    pub fn status(&self) -> StatusCode {
        if self.ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::CapturedLogs;

    fn answer(readiness: &Readiness) -> (StatusCode, String) {
        let body = serde_json::to_string(readiness).expect("readiness serializes");
        (readiness.status(), body)
    }

    #[test]
    fn readiness_names_what_is_down_and_keeps_the_error_to_the_log() {
        let refused = "connection refused: ldap://10.1.2.3:389 as cn=latchkey-gateway";
        let logs = CapturedLogs::start("info");
        let readiness = Readiness::default()
            .check(Dependency::Ldap, Err(refused))
            .check(Dependency::Broker, Ok::<(), &str>(()));
        assert_eq!(
            answer(&readiness),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"ready":false,"down":["ldap"]}"#.into()
            )
        );
        let log = logs.lines();
        let [line] = log.as_slice() else {
            panic!("one line for the one failure: {log:?}");
        };
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["fields"]["message"], "not ready");
        assert_eq!(line["fields"]["dependency"], "ldap");
        assert_eq!(line["fields"]["error"], refused);
    }

    #[test]
    fn readiness_is_200_when_everything_answers() {
        let readiness = Readiness::default()
            .check(Dependency::Ldap, Ok::<(), &str>(()))
            .check(Dependency::Broker, Ok::<(), &str>(()));
        assert_eq!(
            answer(&readiness),
            (StatusCode::OK, r#"{"ready":true,"down":[]}"#.into())
        );
    }

    #[test]
    fn every_dependency_that_is_down_is_named() {
        let readiness = Readiness::default()
            .check(Dependency::Ldap, Err("timed out"))
            .check(Dependency::Broker, Err("no connection"));
        assert_eq!(
            answer(&readiness).1,
            r#"{"ready":false,"down":["ldap","broker"]}"#
        );
    }
}
