//! A model's lineage as an SVG graph: the datasets that trained its aliased
//! versions (left), the runs they came through (middle) and the versions
//! with the aliases that point at them (right), each node a link. Drawn
//! from the data API's upstream answers, so only what the caller reads.

use flotilla_core::lineage::Upstream;
use maud::{Markup, html};

use crate::format;

const COLUMN_X: [f64; 3] = [10.0, 270.0, 530.0];
const NODE_W: f64 = 220.0;
const NODE_H: f64 = 34.0;
const ROW_GAP: f64 = 14.0;

struct Node {
    label: String,
    detail: String,
    href: String,
}

/// Nodes per column, in first-seen order, and edges between (column, index) pairs.
#[derive(Default)]
struct Graph {
    columns: [Vec<Node>; 3],
    edges: Vec<((usize, usize), (usize, usize))>,
}

impl Graph {
    fn node(&mut self, column: usize, node: Node) -> usize {
        let nodes = &mut self.columns[column];
        match nodes.iter().position(|n| n.href == node.href) {
            Some(i) => i,
            None => {
                nodes.push(node);
                nodes.len() - 1
            }
        }
    }
    fn edge(&mut self, from: (usize, usize), to: (usize, usize)) {
        if !self.edges.contains(&(from, to)) {
            self.edges.push((from, to));
        }
    }
}

fn centre(column: usize, row: usize) -> (f64, f64) {
    (COLUMN_X[column], 10.0 + row as f64 * (NODE_H + ROW_GAP) + NODE_H / 2.0)
}

/// The graph of `(alias, upstream)` pairs; `None` when nothing trained them.
pub fn graph(model: &str, upstreams: &[(String, Upstream)]) -> Option<Markup> {
    let mut g = Graph::default();
    for (alias, up) in upstreams {
        let version = g.node(
            2,
            Node {
                label: format!("version {}", up.version),
                detail: alias.clone(),
                href: format!("/models/{}#v{}", format::segment(model), up.version),
            },
        );
        let run = up.run.as_ref().map(|r| {
            let label = if r.run_name.is_empty() { r.run_id.clone() } else { r.run_name.clone() };
            let href = format!("/runs/{}", format::segment(&r.run_id));
            g.node(1, Node { label, detail: format!("experiment {}", r.experiment_id), href })
        });
        if let Some(run) = run {
            g.edge((1, run), (2, version));
        }
        for d in &up.datasets {
            let dataset = g.node(
                0,
                Node {
                    label: d.name.clone(),
                    detail: format!("{}{}", d.digest, if d.superseded { " · superseded" } else { "" }),
                    href: format!("/datasets/{}/{}", format::segment(&d.name), format::segment(&d.digest)),
                },
            );
            match run {
                Some(run) if d.run_id.is_some() => g.edge((0, dataset), (1, run)),
                Some(_) | None => g.edge((0, dataset), (2, version)),
            }
        }
    }
    if g.columns[0].is_empty() {
        return None;
    }
    let rows = g.columns.iter().map(Vec::len).max().unwrap_or(1);
    let height = 20.0 + rows as f64 * (NODE_H + ROW_GAP);
    let width = COLUMN_X[2] + NODE_W + 10.0;
    Some(html! {
        svg.lineage role="img" aria-label=(format!("lineage of {model}")) viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height) {
            @for ((fc, fr), (tc, tr)) in &g.edges {
                @let (x1, y1) = centre(*fc, *fr);
                @let (x2, y2) = centre(*tc, *tr);
                @let (x1, mid) = (x1 + NODE_W, (x1 + NODE_W + x2) / 2.0);
                path d=(format!("M{x1:.1},{y1:.1} C{mid:.1},{y1:.1} {mid:.1},{y2:.1} {x2:.1},{y2:.1}")) fill="none" stroke="#94a3b8" stroke-width="1.5" {}
            }
            @for (c, nodes) in g.columns.iter().enumerate() {
                @for (r, n) in nodes.iter().enumerate() {
                    @let (x, y) = centre(c, r);
                    a href=(n.href) {
                        rect x=(x) y=(y - NODE_H / 2.0) width=(NODE_W) height=(NODE_H) rx="5" fill="#f1f5f9" stroke="#64748b" {}
                        text x=(x + 8.0) y=(y - 2.0) font-size="12" font-weight="600" { (truncate(&n.label)) }
                        text x=(x + 8.0) y=(y + 12.0) font-size="10" fill="#475569" { (truncate(&n.detail)) }
                    }
                }
            }
        }
    })
}

fn truncate(s: &str) -> String {
    const MAX: usize = 32;
    if s.chars().count() <= MAX { s.to_string() } else { format!("{}…", s.chars().take(MAX - 1).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use flotilla_core::VersionNumber;
    use flotilla_core::lineage::{LineageRun, UpstreamDataset};

    use super::*;

    fn dataset(name: &str, run: Option<&str>) -> UpstreamDataset {
        UpstreamDataset {
            name: name.into(),
            digest: "d1".into(),
            source_type: "local".into(),
            source: "{}".into(),
            context: Some("training".into()),
            run_id: run.map(str::to_string),
            superseded: false,
        }
    }

    #[test]
    fn nodes_and_edges_are_closed_elements_and_shared_nodes_drawn_once() {
        let run = LineageRun {
            run_id: "r1".into(),
            experiment_id: "1".into(),
            run_name: "train".into(),
            context: None,
            logged_models: vec![],
        };
        let up = |v: i64, datasets| Upstream {
            model: "m".into(),
            version: VersionNumber::new(v).unwrap(),
            model_id: None,
            run: Some(run.clone()),
            datasets,
        };
        let pairs = [
            ("champion".to_string(), up(2, vec![dataset("sales", Some("r1")), dataset("calendar", None)])),
            ("challenger".to_string(), up(3, vec![dataset("sales", Some("r1"))])),
        ];
        let svg = graph("m", &pairs).expect("datasets trained it").into_string();
        // In HTML, SVG children must be closed or they swallow their siblings.
        for tag in ["rect", "path", "text"] {
            assert_eq!(
                svg.matches(&format!("<{tag} ")).count(),
                svg.matches(&format!("</{tag}>")).count(),
                "{tag}: {svg}"
            );
        }
        assert_eq!(svg.matches("<rect ").count(), 2 + 1 + 2, "two datasets, one run, two versions");
        assert_eq!(svg.matches("<path ").count(), 4, "sales→run, calendar→v2, run→v2, run→v3");
        assert!(graph("m", &[("champion".to_string(), up(2, vec![]))]).is_none());
    }
}
