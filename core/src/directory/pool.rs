use super::{DirectoryError, Result};
use crate::config::LdapSettings;
use crate::domain::Dn;
use deadpool::managed::{self, Metrics, Object, Pool, RecycleError, RecycleResult};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// Opens connections bound as the service account.
#[derive(Debug)]
pub(super) struct ServiceBinds {
    url: String,
    service_dn: String,
    service_password: SecretString,
    timeout: Duration,
}

impl ServiceBinds {
    /// A connection bound as `dn`, or the bind's error.
    pub(super) async fn connect(&self) -> std::result::Result<Ldap, LdapError> {
        let settings = LdapConnSettings::new().set_conn_timeout(self.timeout);
        let (connection, mut ldap) = LdapConnAsync::with_settings(settings, &self.url).await?;
        ldap3::drive!(connection);
        ldap.with_timeout(self.timeout);
        Ok(ldap)
    }
}

impl managed::Manager for ServiceBinds {
    type Type = Ldap;
    type Error = LdapError;

    async fn create(&self) -> std::result::Result<Ldap, LdapError> {
        let mut ldap = self.connect().await?;
        ldap.with_timeout(self.timeout)
            .simple_bind(&self.service_dn, self.service_password.expose_secret())
            .await?
            .success()?;
        Ok(ldap)
    }

    async fn recycle(&self, ldap: &mut Ldap, _: &Metrics) -> RecycleResult<LdapError> {
        if ldap.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        Ok(())
    }
}

/// The directory over LDAP: a pool of connections bound as the service
/// account, and the layout of the tree under the configured suffix.
#[derive(Debug, Clone)]
pub struct LdapDirectory {
    pool: Pool<ServiceBinds>,
    pub(super) base: Dn,
    pub(super) jobs: Dn,
    pub(super) sessions: Dn,
    pub(super) job_ttl_seconds: u32,
}

/// A pooled connection; see [`LdapDirectory::conn`].
pub(super) type PooledLdap = Object<ServiceBinds>;

impl LdapDirectory {
    /// A directory client; connections open lazily, so this never blocks.
    pub fn new(settings: &LdapSettings, job_ttl_seconds: u32) -> Self {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let manager = ServiceBinds {
            url: settings.url.clone(),
            service_dn: settings.service_dn.clone(),
            service_password: settings.service_password.clone(),
            timeout,
        };
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime and timeouts builds");
        let base = Dn::from_directory(settings.base_dn.clone());
        Self {
            jobs: Dn::from_directory(format!("ou=jobs,{base}")),
            sessions: Dn::from_directory(format!("ou=sessions,{base}")),
            base,
            pool,
            job_ttl_seconds,
        }
    }

    /// A connection bound as the service account.
    pub(super) async fn conn(&self) -> Result<PooledLdap> {
        self.pool.get().await.map_err(|error| match error {
            managed::PoolError::Backend(error) => classify(error),
            other => DirectoryError::Unavailable(other.to_string()),
        })
    }

    /// A fresh, unbound connection (for binds as a user, which would leave a
    /// pooled connection anonymous if they failed).
    pub(super) async fn unpooled(&self) -> Result<Ldap> {
        self.pool.manager().connect().await.map_err(classify)
    }

    /// The entry at `dn` if it exists and matches `filter`.
    pub(super) async fn read_entry(
        &self,
        dn: &str,
        filter: &str,
        attributes: &[&str],
    ) -> Result<Option<ldap3::SearchEntry>> {
        let mut ldap = self.conn().await?;
        let outcome = ldap
            .search(dn, ldap3::Scope::Base, filter, attributes)
            .await;
        match check(outcome.and_then(|result| result.success())) {
            Ok((entries, _)) => Ok(entries
                .into_iter()
                .next()
                .map(ldap3::SearchEntry::construct)),
            Err(DirectoryError::NoSuchEntry) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Deletes the entry at `dn`; an entry already gone is not an error.
    pub(super) async fn delete_entry(&self, ldap: &mut PooledLdap, dn: &str) -> Result<bool> {
        let outcome = ldap.delete(dn).await;
        match check(outcome.and_then(|result| result.success())) {
            Ok(_) => Ok(true),
            Err(DirectoryError::NoSuchEntry) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Whether the directory answers a service-bound read of the suffix.
    pub async fn ping(&self) -> Result<()> {
        let mut ldap = self.conn().await?;
        let outcome = ldap
            .search(
                self.base.as_str(),
                ldap3::Scope::Base,
                "(objectClass=*)",
                vec!["1.1"],
            )
            .await;
        check(outcome.and_then(|result| result.success()).map(drop))
    }
}

/// Maps an LDAP error to what it means for the caller.
pub(super) fn classify(error: LdapError) -> DirectoryError {
    let classified = classify_only(error);
    let kind = match &classified {
        DirectoryError::Unavailable(_) => "unavailable",
        DirectoryError::Conflict => "conflict",
        DirectoryError::NoSuchEntry => "no_such_entry",
        DirectoryError::Refused(_) => "refused",
    };
    metrics::counter!("latchkey_directory_errors_total", "kind" => kind).increment(1);
    classified
}

fn classify_only(error: LdapError) -> DirectoryError {
    match error {
        LdapError::LdapResult { result } => match result.rc {
            // noSuchAttribute, constraintViolation, attributeOrValueExists, assertionFailed:
            // another writer got there first.
            16 | 19 | 20 | 122 => DirectoryError::Conflict,
            32 => DirectoryError::NoSuchEntry,
            // busy, unavailable, unwillingToPerform under load, timeLimitExceeded
            3 | 51 | 52 => DirectoryError::Unavailable(result.to_string()),
            _ => DirectoryError::Refused(result.to_string()),
        },
        other => DirectoryError::Unavailable(other.to_string()),
    }
}

/// Maps a whole operation's outcome; a connection broken by the failure is
/// dropped when the pool next recycles it (`is_closed`).
pub(super) fn check<T>(result: std::result::Result<T, LdapError>) -> Result<T> {
    result.map_err(classify)
}
