//! Registered models, versions and aliases as an MLflow SQL store holds them.

use std::collections::HashMap;

use flotilla_core::VersionNumber;
use flotilla_core::model::{ModelVersion, ModelVersionStatus, RegisteredModel, Tag};
use flotilla_store::import::ImportedAlias;

use super::Source;
use crate::{ImportError, ImportResult};

fn version_number(n: i64) -> ImportResult<VersionNumber> {
    VersionNumber::try_from(n).map_err(|_| ImportError::Source(format!("model version number {n} is not positive")))
}

impl Source {
    /// `(name, key, value)` or `(name, version, key, value)` rows keyed by name or `name\0version`.
    fn tags_by(&self, sql: &str) -> ImportResult<HashMap<String, Vec<Tag>>> {
        let mut out: HashMap<String, Vec<Tag>> = HashMap::new();
        let mut stmt = self.conn().prepare(sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let value: Option<String> = r.get(2)?;
            out.entry(r.get(0)?).or_default().push(Tag::new(r.get::<_, String>(1)?, value.unwrap_or_default()));
        }
        Ok(out)
    }

    pub fn registered_models(&self) -> ImportResult<Vec<RegisteredModel>> {
        let ws = self.in_default_workspace("registered_models")?;
        let tag_ws = self.in_default_workspace("registered_model_tags")?;
        let mut tags = self.tags_by(&format!("SELECT name, key, value FROM registered_model_tags WHERE {tag_ws}"))?;
        let mut stmt = self.conn().prepare(&format!(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE {ws} ORDER BY name"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            out.push(RegisteredModel {
                tags: tags.remove(&name).unwrap_or_default(),
                name,
                creation_timestamp: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                last_updated_timestamp: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                user_id: None,
                description: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                latest_versions: Vec::new(),
                aliases: Vec::new(),
            });
        }
        Ok(out)
    }

    /// Every version (deleted ones are gone from MLflow's table: it deletes them).
    pub fn model_versions(&self) -> ImportResult<Vec<ModelVersion>> {
        let ws = self.in_default_workspace("model_versions")?;
        let tag_ws = self.in_default_workspace("model_version_tags")?;
        let mut tags = self.tags_by(&format!(
            "SELECT name || char(0) || version, key, value FROM model_version_tags WHERE {tag_ws}"
        ))?;
        let model_id = self.column_or_null("model_versions", "model_id")?;
        let stage = self.column_or_null("model_versions", "current_stage")?;
        let mut stmt = self.conn().prepare(&format!(
            "SELECT name, version, creation_time, last_updated_time, description, user_id, {stage}, source, run_id,
                    status, status_message, run_link, {model_id}
             FROM model_versions WHERE {ws} AND (current_stage IS NULL OR current_stage != 'Deleted_Internal')
             ORDER BY name, version"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            let number: i64 = r.get(1)?;
            let status = match r.get::<_, Option<String>>(9)?.as_deref() {
                Some("PENDING_REGISTRATION") => ModelVersionStatus::PendingRegistration,
                Some("FAILED_REGISTRATION") => ModelVersionStatus::FailedRegistration,
                _ => ModelVersionStatus::Ready,
            };
            out.push(ModelVersion {
                tags: tags.remove(&format!("{name}\0{number}")).unwrap_or_default(),
                version: version_number(number)?,
                creation_timestamp: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                last_updated_timestamp: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                description: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                user_id: r.get(5)?,
                current_stage: r.get::<_, Option<String>>(6)?.unwrap_or_else(|| "None".into()),
                source: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                run_id: r.get::<_, Option<String>>(8)?.filter(|id| !id.is_empty()),
                status,
                status_message: r.get(10)?,
                run_link: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                aliases: Vec::new(),
                model_id: r.get(12)?,
                name,
            });
        }
        Ok(out)
    }

    /// Versions MLflow deleted (kept as redacted `Deleted_Internal` rows): by
    /// model, how many and the highest number among them.
    pub fn deleted_versions(&self) -> ImportResult<Vec<(String, u64, VersionNumber)>> {
        let ws = self.in_default_workspace("model_versions")?;
        let mut stmt = self.conn().prepare(&format!(
            "SELECT name, count(*), max(version) FROM model_versions
             WHERE {ws} AND current_stage = 'Deleted_Internal' GROUP BY name ORDER BY name"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((r.get(0)?, r.get::<_, i64>(1)? as u64, version_number(r.get(2)?)?));
        }
        Ok(out)
    }

    pub fn aliases(&self) -> ImportResult<Vec<ImportedAlias>> {
        if !self.has_table("registered_model_aliases")? {
            return Ok(Vec::new());
        }
        let ws = self.in_default_workspace("registered_model_aliases")?;
        let mut stmt = self.conn().prepare(&format!(
            "SELECT name, alias, version FROM registered_model_aliases WHERE {ws} ORDER BY name, alias"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(ImportedAlias { model: r.get(0)?, alias: r.get(1)?, version: version_number(r.get(2)?)? });
        }
        Ok(out)
    }
}
