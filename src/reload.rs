//! Where the configuration comes from, and noticing that it changed. A
//! change is detected by content, not by modification time or inode, so it
//! survives editors that replace the file and Kubernetes ConfigMaps that
//! swap a symlink.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::config::{self, ConfigError, ConfigErrors, Loaded};

/// A configuration file plus the environment its `${NAME}`s resolve in.
pub struct ConfigSource {
    pub path: PathBuf,
}

impl ConfigSource {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ConfigSource { path: path.into() }
    }

    fn read(&self) -> Result<String, ConfigErrors> {
        std::fs::read_to_string(&self.path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                location: self.path.display().to_string(),
                message: format!("cannot read: {e}"),
            }])
        })
    }

    /// Reads and validates the file, resolving secrets from the process
    /// environment.
    pub fn load(&self) -> Result<Loaded, ConfigErrors> {
        config::parse(&self.read()?, &|name| std::env::var(name).ok())
    }
}

pub struct Reload {
    source: ConfigSource,
    last_digest: Option<[u8; 32]>,
}

impl Reload {
    pub fn new(source: ConfigSource) -> Self {
        let last_digest = source
            .read()
            .ok()
            .map(|t| Sha256::digest(t.as_bytes()).into());
        Reload {
            source,
            last_digest,
        }
    }

    /// A freshly validated configuration when the file changed (or always,
    /// when `forced`, as on SIGHUP: the environment may have changed);
    /// `None` when there is nothing new.
    pub fn check(&mut self, forced: bool) -> Option<Result<Loaded, ConfigErrors>> {
        let text = match self.source.read() {
            Ok(t) => t,
            // A file that is briefly absent mid-swap is not a change.
            Err(e) => return forced.then_some(Err(e)),
        };
        let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if !forced && self.last_digest == Some(digest) {
            return None;
        }
        self.last_digest = Some(digest);
        Some(config::parse(&text, &|name| std::env::var(name).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
        [[route]]\nname = \"n\"\npath = \"/n\"\nprovider = \"voxagent\"\nsecrets = [\"s\"]\ntimeout = \"2s\"\n";

    #[test]
    fn notices_content_changes_only_and_survives_a_symlink_swap() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = dir.path().join("v1.toml");
        let v2 = dir.path().join("v2.toml");
        let link = dir.path().join("config.toml");
        std::fs::write(&v1, CONFIG).unwrap();
        std::fs::write(&v2, CONFIG.replace("\"/n\"", "\"/m\"")).unwrap();
        std::os::unix::fs::symlink(&v1, &link).unwrap();

        let mut reload = Reload::new(ConfigSource::new(&link));
        assert!(reload.check(false).is_none());
        // Touching without a change is not a reload.
        std::fs::write(&v1, CONFIG).unwrap();
        assert!(reload.check(false).is_none());
        assert!(reload.check(true).unwrap().is_ok());

        // A ConfigMap-style swap: the link now points at new content.
        let tmp = dir.path().join("config.toml.tmp");
        std::os::unix::fs::symlink(&v2, &tmp).unwrap();
        std::fs::rename(&tmp, &link).unwrap();
        let loaded = reload.check(false).unwrap().unwrap();
        assert!(loaded.config.route("/m").is_some());

        // An invalid edit is reported once, then not again until it changes.
        std::fs::write(&v2, "not toml [").unwrap();
        assert!(reload.check(false).unwrap().is_err());
        assert!(reload.check(false).is_none());

        // A briefly missing file is not a change.
        std::fs::remove_file(&v2).unwrap();
        assert!(reload.check(false).is_none());
    }
}
