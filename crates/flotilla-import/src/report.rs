//! The reconciliation report: per entity kind, what the source has against
//! what the destination holds identical to it, the metric points, the
//! artifacts (files, bytes, checksum mismatches, missing), every conflict,
//! and what flotilla has no home for. Printed as a table and kept as JSON.

use std::collections::BTreeMap;
use std::io::Write;

use flotilla_store::import::Outcome;
use serde::Serialize;

/// One entity kind's tally.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct KindCounts {
    /// In the source.
    pub source: u64,
    /// Present in the destination and identical to the source (inserted or unchanged).
    pub destination: u64,
    /// Written by this import.
    pub inserted: u64,
    /// Already there, identical.
    pub unchanged: u64,
    /// Already there, different (not overwritten).
    pub conflicts: u64,
    /// Left out on purpose (`--skip-deleted`).
    pub skipped: u64,
}

impl KindCounts {
    pub fn tally(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Inserted => {
                self.inserted += 1;
                self.destination += 1;
            }
            Outcome::Unchanged => {
                self.unchanged += 1;
                self.destination += 1;
            }
            Outcome::Conflict(_) => self.conflicts += 1,
        }
    }

    /// Whether source and destination disagree (skipped entities excepted).
    pub fn differs(&self) -> bool {
        self.destination + self.skipped != self.source
    }
}

/// An entity present in the destination with different content.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Conflict {
    pub kind: String,
    pub id: String,
    pub fields: Vec<String>,
}

/// The artifact copy's tally.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ArtifactCounts {
    pub source_files: u64,
    pub source_bytes: u64,
    /// Files whose destination copy has the source's SHA-256 (copied now or before).
    pub destination_files: u64,
    pub destination_bytes: u64,
    pub copied_files: u64,
    pub checksum_mismatches: Vec<String>,
    /// Artifacts an entity names that the source root does not have.
    pub missing: Vec<String>,
    /// Why artifacts were not copied at all, if they were not.
    pub not_copied: Option<String>,
}

/// The whole report (`--report-json` writes it as is).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub schema_revision: String,
    pub dry_run: bool,
    pub kinds: BTreeMap<String, KindCounts>,
    pub artifacts: ArtifactCounts,
    pub conflicts: Vec<Conflict>,
    /// Rows flotilla has no home for, by source table.
    pub not_imported: BTreeMap<String, u64>,
    /// Things kept as they were that a reader should know (dangling run links...).
    pub notes: Vec<String>,
    pub seconds: f64,
    /// `--dry-run`: the estimated time of the real import, and the artifact bytes to copy.
    pub estimated_seconds: Option<f64>,
}

impl Report {
    pub fn kind(&mut self, kind: &str) -> &mut KindCounts {
        self.kinds.entry(kind.to_string()).or_default()
    }

    /// Tallies one entity and keeps its conflict.
    pub fn record(&mut self, kind: &str, id: impl Into<String>, outcome: &Outcome) {
        self.kind(kind).tally(outcome);
        if let Outcome::Conflict(fields) = outcome {
            self.conflicts.push(Conflict { kind: kind.into(), id: id.into(), fields: fields.clone() });
        }
    }

    /// Whether anything differs: the exit code is non-zero when it does.
    pub fn has_differences(&self) -> bool {
        if self.dry_run {
            return false;
        }
        !self.conflicts.is_empty()
            || self.kinds.values().any(KindCounts::differs)
            || !self.artifacts.checksum_mismatches.is_empty()
            || !self.artifacts.missing.is_empty()
            || self.artifacts.destination_files != self.artifacts.source_files
    }

    /// The table printed at the end.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let title = if self.dry_run { "dry run (nothing written)" } else { "reconciliation" };
        writeln!(out, "{title}: {} (schema {})", self.source, self.schema_revision)?;
        writeln!(
            out,
            "{:<22} {:>10} {:>12} {:>10} {:>10} {:>10} {:>8}",
            "kind", "source", "destination", "inserted", "unchanged", "conflicts", "skipped"
        )?;
        for (kind, c) in &self.kinds {
            let mark = if !self.dry_run && c.differs() { "  <- differs" } else { "" };
            writeln!(
                out,
                "{kind:<22} {:>10} {:>12} {:>10} {:>10} {:>10} {:>8}{mark}",
                c.source, c.destination, c.inserted, c.unchanged, c.conflicts, c.skipped
            )?;
        }
        let a = &self.artifacts;
        writeln!(
            out,
            "artifacts: {} files / {} bytes in the source, {} files / {} bytes verified in the destination ({} copied now)",
            a.source_files, a.source_bytes, a.destination_files, a.destination_bytes, a.copied_files
        )?;
        if let Some(why) = &a.not_copied {
            writeln!(out, "artifacts not copied: {why}")?;
        }
        for path in &a.checksum_mismatches {
            writeln!(out, "checksum mismatch: {path}")?;
        }
        for path in &a.missing {
            writeln!(out, "missing artifact: {path}")?;
        }
        for c in &self.conflicts {
            writeln!(out, "conflict: {} {} differs in {}", c.kind, c.id, c.fields.join(", "))?;
        }
        for (table, rows) in &self.not_imported {
            writeln!(out, "not imported: {table} ({rows} rows; flotilla has no home for them)")?;
        }
        for note in &self.notes {
            writeln!(out, "note: {note}")?;
        }
        match self.estimated_seconds {
            Some(s) => {
                writeln!(out, "estimated: {s:.1} s for the metadata, {} artifact bytes to copy", a.source_bytes)?
            }
            None => writeln!(out, "took {:.2} s", self.seconds)?,
        }
        Ok(())
    }
}
