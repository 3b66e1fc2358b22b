//! Each section of a report, from counters and bounded reads: inventory
//! (facet counts; registrations per week, one counted query per week),
//! promotions (alias moves grouped in the store), model quality (a bounded
//! sample of the key metric per family, champion against challenger) and
//! health (the roll-up counters and the worst models).

use flotilla_core::fleet::{FleetQuery, PartitionValue};
use flotilla_store::health::{Check, HealthScope, Status, WorstQuery};
use flotilla_store::insights::FacetBound;
use flotilla_store::report::WEEK_MS;
use flotilla_store::{PageRequest, Store, StoreResult, Visible};

use super::{Cell, Headline, Plot, Report, ReportRequest, ReportScope, Section, Table, monitoring};
use crate::report::request::{Period, date};

/// Families listed in a section's table at most.
pub const TOP_FAMILIES: usize = 20;
/// Families whose key metric is sampled at most.
pub const QUALITY_FAMILIES: usize = 10;
/// Members read per family and alias for the metric sample.
pub const METRIC_SAMPLE: usize = 2_000;
/// Time buckets of a per-week table at most (longer periods widen the buckets).
pub const MAX_BUCKETS: i64 = 26;
/// Alias-move groups read at most.
pub const MAX_MOVE_GROUPS: usize = 500;
const BOUND: FacetBound = FacetBound { matches: 5_000_000, time: std::time::Duration::from_secs(5) };

pub(crate) fn table(name: &str, columns: &[&str], rows: Vec<Vec<Cell>>) -> Table {
    Table { name: name.into(), columns: columns.iter().map(|c| (*c).to_string()).collect(), rows }
}

fn fleet_query(scope: &ReportScope, visible: &Visible) -> FleetQuery {
    let mut q = FleetQuery { visible: visible.clone(), ..FleetQuery::default() };
    match scope {
        ReportScope::Fleet => {}
        ReportScope::Family { family } => q.family = Some(family.clone()),
        ReportScope::Partition { family, key, value } => {
            q.family = Some(family.clone());
            q.partition = vec![PartitionValue::new(key, value)];
        }
        ReportScope::Tag { key, value } => q.tags = vec![(key.clone(), value.clone())],
    }
    q
}

fn health_scope(scope: &ReportScope) -> HealthScope {
    match scope {
        ReportScope::Fleet => HealthScope::Fleet,
        ReportScope::Family { family } => HealthScope::Family(family.clone()),
        ReportScope::Partition { family, key, value } => {
            HealthScope::Partition { family: family.clone(), key: key.clone(), value: value.clone() }
        }
        ReportScope::Tag { key, value } => HealthScope::Tag { key: key.clone(), value: value.clone() },
    }
}

/// Models registered in `p` (by the model's creation time): from the
/// store's counters for the fleet or a family the caller reads whole, else
/// by counting the scope's models.
fn registered(store: &dyn Store, req: &ReportRequest, base: &FleetQuery, p: Period) -> StoreResult<(i64, bool)> {
    let counted = matches!(req.scope, ReportScope::Fleet | ReportScope::Family { .. })
        && monitoring::reads_whole(&req.scope, &base.visible);
    if counted && let Some(n) = store.registered_count(req.scope.family(), p.from, p.to)? {
        return Ok((n, false));
    }
    let q = FleetQuery { created_after: Some(p.from - 1), created_before: Some(p.to), ..base.clone() };
    let (f, capped) = store.bounded_facets(&q, &[], BOUND)?;
    Ok((f.total, capped))
}

/// Computes a report. Unknown family: not found.
pub fn build(store: &dyn Store, req: &ReportRequest, visible: Visible, now: i64) -> StoreResult<Report> {
    if let Some(f) = req.scope.family() {
        store.get_family(f)?;
    }
    let base = fleet_query(&req.scope, &visible);
    let mut summary = Vec::new();
    let mut sections = Vec::new();
    let whole = monitoring::reads_whole(&req.scope, &visible);
    let families = timed("inventory", || inventory(store, req, &base, &mut summary, &mut sections))?;
    timed("promotions", || promotions(store, req, &visible, &mut summary, &mut sections))?;
    timed("quality", || quality(store, req, &visible, &families, &mut sections))?;
    let stale = timed("staleness", || monitoring::staleness(store, req, whole, &mut summary, &mut sections))?;
    timed("serving", || monitoring::serving(store, req, whole, &mut summary, &mut sections))?;
    timed("drift", || monitoring::drift(store, req, whole, &mut sections))?;
    timed("data", || monitoring::data(store, req, whole, &stale, &mut summary, &mut sections))?;
    timed("health", || health(store, req, &visible, &mut summary, &mut sections))?;
    summary.sort_by(|a, b| b.moved().total_cmp(&a.moved()));
    Ok(Report { scope: req.scope.clone(), period: req.period, compare: req.compare, generated: now, summary, sections })
}

/// Runs one section's reads, logging how long they took (debug, target
/// `flotilla_app::report`): where a slow report spends its time.
fn timed<T>(section: &str, f: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = f();
    tracing::debug!(section, millis = started.elapsed().as_secs_f64() * 1000.0, "report section");
    out
}

/// Models, versions and aliases; per family; registrations per week. Returns the largest families.
fn inventory(
    store: &dyn Store,
    req: &ReportRequest,
    base: &FleetQuery,
    summary: &mut Vec<Headline>,
    sections: &mut Vec<Section>,
) -> StoreResult<Vec<String>> {
    let (facets, capped) = store.bounded_facets(base, &[], BOUND)?;
    let versions: i64 = facets.stages.iter().map(|(_, n)| n).sum();
    let mut text = vec![format!(
        "{}{} models, {versions} versions, {} aliases set.",
        facets.total,
        if capped { "+" } else { "" },
        facets.aliases.iter().map(|(_, n)| n).sum::<i64>()
    )];
    let mut per_family = Vec::new();
    let mut families = Vec::new();
    for (family, models) in facets.families.iter().take(TOP_FAMILIES) {
        let q = FleetQuery { family: Some(family.clone()), ..base.clone() };
        let (f, _) = store.bounded_facets(&q, &[], BOUND)?;
        let alias_of = |a: &str| f.aliases.iter().find(|(n, _)| n == a).map_or(0, |(_, n)| *n);
        per_family.push(vec![
            Cell::Text(family.clone()),
            Cell::Int(*models),
            Cell::Int(f.stages.iter().map(|(_, n)| n).sum()),
            Cell::Int(alias_of("champion")),
            Cell::Int(alias_of("challenger")),
            Cell::Int(f.aliases.iter().map(|(_, n)| n).sum()),
        ]);
        families.push(family.clone());
    }
    if facets.families.len() > TOP_FAMILIES {
        text.push(format!("The {TOP_FAMILIES} largest of {} families are listed.", facets.families.len()));
    }
    let aliases = facets.aliases.iter().take(TOP_FAMILIES).map(|(a, n)| vec![Cell::Text(a.clone()), Cell::Int(*n)]);
    // Registrations per bucket (a week, or wider so at most MAX_BUCKETS).
    let len = req.period.to - req.period.from;
    let width = WEEK_MS.max((len + MAX_BUCKETS - 1) / MAX_BUCKETS);
    let mut weeks = Vec::new();
    let mut start = req.period.from;
    while start < req.period.to {
        let p = Period { from: start, to: (start + width).min(req.period.to) };
        let (n, _) = registered(store, req, base, p)?;
        weeks.push(vec![Cell::Text(date(p.from)), Cell::Int(n)]);
        start = p.to;
    }
    let (now_n, _) = registered(store, req, base, req.period)?;
    let (before_n, _) = registered(store, req, base, req.compare)?;
    text.push(format!("{now_n} models registered in the period ({before_n} in the comparison period)."));
    summary.push(Headline { label: "models registered".into(), now: now_n, before: Some(before_n) });
    summary.push(Headline { label: "models in scope".into(), now: facets.total, before: None });
    sections.push(Section {
        id: "inventory".into(),
        title: "Inventory".into(),
        text,
        plot: Some(Plot { label: 0, value: 1, column: None, caption: "Models per family (largest first)".into() }),
        tables: vec![
            table(
                "inventory_families",
                &["family", "models", "versions", "champion", "challenger", "aliases"],
                per_family,
            ),
            table("inventory_aliases", &["alias", "models"], aliases.collect()),
            table("inventory_registrations", &["from", "models_registered"], weeks),
        ],
    });
    Ok(families)
}

/// Alias moves per week, actor and kind; only for a caller who reads the scope whole.
fn promotions(
    store: &dyn Store,
    req: &ReportRequest,
    visible: &Visible,
    summary: &mut Vec<Headline>,
    sections: &mut Vec<Section>,
) -> StoreResult<()> {
    let family = req.scope.family();
    let whole = visible.is_everything() || family.is_some_and(|f| visible.family_wholly(f));
    let filtered = matches!(req.scope, ReportScope::Partition { .. } | ReportScope::Tag { .. });
    let mut text = Vec::new();
    let mut rows = Vec::new();
    if !whole {
        text.push("Not shown: the alias log names models, and you do not read every model of this scope.".into());
    } else {
        if filtered {
            text.push(format!("Moves are counted for the whole {}.", family.map_or("fleet", |_| "family")));
        }
        let moves = store.alias_moves(req.period.from, req.period.to, family, MAX_MOVE_GROUPS)?;
        let before = store.alias_moves(req.compare.from, req.compare.to, family, MAX_MOVE_GROUPS)?;
        let total: i64 = moves.iter().map(|m| m.moves).sum();
        let total_before: i64 = before.iter().map(|m| m.moves).sum();
        let rollbacks: i64 = moves.iter().filter(|m| m.kind == "rollback").map(|m| m.moves).sum();
        text.push(format!("{total} alias moves in the period ({rollbacks} by rollback), {total_before} before."));
        if moves.len() >= MAX_MOVE_GROUPS {
            text.push(format!("Only the first {MAX_MOVE_GROUPS} week × actor × kind groups are listed."));
        }
        summary.push(Headline { label: "alias moves".into(), now: total, before: Some(total_before) });
        summary.push(Headline { label: "rollbacks".into(), now: rollbacks, before: None });
        rows = moves
            .into_iter()
            .map(|m| vec![Cell::Text(date(m.week)), Cell::Text(m.actor), Cell::Text(m.kind), Cell::Int(m.moves)])
            .collect();
    }
    sections.push(Section {
        id: "promotions".into(),
        title: "Promotions and rollbacks".into(),
        text,
        plot: Some(Plot { label: 1, value: 3, column: None, caption: "Alias moves by actor".into() }),
        tables: vec![table("promotions", &["week", "actor", "kind", "moves"], rows)],
    });
    Ok(())
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}

/// The key metric per family, champion and challenger, from a bounded sample.
fn quality(
    store: &dyn Store,
    req: &ReportRequest,
    visible: &Visible,
    families: &[String],
    sections: &mut Vec<Section>,
) -> StoreResult<()> {
    let key = match &req.metric {
        Some(m) => Some(m.clone()),
        None => store.alias_metric_keys("champion")?.into_iter().next(),
    };
    let mut text = Vec::new();
    let mut rows = Vec::new();
    let partition: Vec<PartitionValue> = match &req.scope {
        ReportScope::Partition { key, value, .. } => vec![PartitionValue::new(key, value)],
        ReportScope::Fleet | ReportScope::Family { .. } | ReportScope::Tag { .. } => Vec::new(),
    };
    match &key {
        None => text.push("No champion carries a metric: nothing to compare.".into()),
        Some(key) => {
            text.push(format!(
                "Key metric '{key}': a sample of at most {METRIC_SAMPLE} members per family and alias, of the {QUALITY_FAMILIES} largest families the caller reads whole."
            ));
            for family in families.iter().filter(|f| visible.family_wholly(f)).take(QUALITY_FAMILIES) {
                for alias in ["champion", "challenger"] {
                    let mut s = store.metric_sample(family, &partition, alias, key, METRIC_SAMPLE)?;
                    if s.values.is_empty() {
                        continue;
                    }
                    s.values.sort_by(f64::total_cmp);
                    let mean = s.values.iter().sum::<f64>() / s.values.len() as f64;
                    rows.push(vec![
                        Cell::Text(family.clone()),
                        Cell::Text(alias.into()),
                        Cell::Int(s.values.len() as i64),
                        Cell::Text(if s.truncated { "sampled" } else { "all" }.into()),
                        Cell::Num(Some(mean)),
                        Cell::Num(quantile(&s.values, 0.0)),
                        Cell::Num(quantile(&s.values, 0.25)),
                        Cell::Num(quantile(&s.values, 0.5)),
                        Cell::Num(quantile(&s.values, 0.75)),
                        Cell::Num(quantile(&s.values, 1.0)),
                    ]);
                }
            }
        }
    }
    let mut tables = vec![table(
        "quality",
        &["family", "alias", "models", "sampling", "mean", "min", "p25", "median", "p75", "max"],
        rows,
    )];
    match &key {
        Some(key) if monitoring::reads_whole(&req.scope, visible) => {
            tables.extend(monitoring::promotion_effects(store, req, key, &mut text)?);
        }
        Some(_) | None => {}
    }
    sections.push(Section {
        id: "quality".into(),
        title: "Model quality".into(),
        text,
        plot: Some(Plot { label: 0, value: 4, column: None, caption: "Mean key metric per family and alias".into() }),
        tables,
    });
    Ok(())
}

/// The health roll-up of the scope and its worst models.
fn health(
    store: &dyn Store,
    req: &ReportRequest,
    visible: &Visible,
    summary: &mut Vec<Headline>,
    sections: &mut Vec<Section>,
) -> StoreResult<()> {
    let scope = health_scope(&req.scope);
    let counts = store.health_counts(&scope, visible)?;
    let of = |check: Check, status: Status| {
        counts.counts.iter().find(|c| c.check == check && c.status == status).map_or(0, |c| c.models)
    };
    let rows: Vec<Vec<Cell>> = Check::ALL
        .iter()
        .map(|&c| {
            let mut row = vec![Cell::Text(c.as_str().into())];
            row.extend(Status::ALL.iter().map(|&s| Cell::Int(of(c, s))));
            row
        })
        .collect();
    let fails: i64 = Check::ALL.iter().map(|&c| of(c, Status::Fail)).sum();
    // Against the comparison period: the health snapshots at each period's end.
    let snapshot = |at: i64| match &req.scope {
        ReportScope::Fleet | ReportScope::Family { .. } => store.failing_at(req.scope.family(), at),
        ReportScope::Partition { .. } | ReportScope::Tag { .. } => Ok(None),
    };
    let (at_end, at_compare_end) = (snapshot(req.period.to)?, snapshot(req.compare.to)?);
    match (at_end, at_compare_end) {
        (Some((_, now)), Some((_, before))) if monitoring::reads_whole(&req.scope, visible) => {
            summary.push(Headline { label: "failing checks (health snapshots)".into(), now, before: Some(before) });
        }
        _ => summary.push(Headline { label: "failing checks (now)".into(), now: fails, before: None }),
    }
    let worst = store.worst_models(&WorstQuery {
        scope: Some(scope),
        page: PageRequest { max_results: Some(10), page_token: None },
        visible: visible.clone(),
    })?;
    let worst_rows = worst
        .items
        .into_iter()
        .map(|w| vec![Cell::Text(w.name), Cell::Text(w.family.unwrap_or_default()), Cell::Int(w.score)])
        .collect();
    let mut columns = vec!["check"];
    columns.extend(Status::ALL.iter().map(|s| s.as_str()));
    let mut text = vec![format!("{fails} failing checks across the scope, as of now.")];
    if counts.partial {
        text.push("Partial: only whole families you read are counted.".into());
    }
    sections.push(Section {
        id: "health".into(),
        title: "Serving health and drift".into(),
        text,
        plot: Some(Plot { label: 0, value: 3, column: None, caption: "Models failing each check".into() }),
        tables: vec![table("health", &columns, rows), table("health_worst", &["model", "family", "score"], worst_rows)],
    });
    Ok(())
}
