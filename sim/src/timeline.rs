//! A self-contained HTML timeline of a run: one lane per node and one for clients, time going
//! down; messages as arrows from sender to receiver, faults as red bands, node state changes
//! as labels, client operations as bars (green: ok, red: failed, orange: unknown outcome).

use crate::history::{History, Operation};
use crate::trace::MessageEvent;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

const LANE_WIDTH_PX: u64 = 170;
const TOP_PX: u64 = 60;
/// The page is at most this tall; time is scaled to fit.
const HEIGHT_PX_MAX: f64 = 30_000.0;

pub struct TimelineInput<'a> {
    pub title: String,
    /// (node name, ip)
    pub nodes: Vec<(String, String)>,
    pub events: &'a [(u64, String)],
    pub messages: &'a [MessageEvent],
    pub history: &'a History,
    pub end_ms: u64,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Layout {
    lanes: BTreeMap<String, u64>,
    scale: f64,
}

impl Layout {
    fn x(&self, lane: &str) -> u64 {
        self.lanes.get(lane).copied().unwrap_or(0) * LANE_WIDTH_PX + LANE_WIDTH_PX / 2
    }
    fn y(&self, ms: u64) -> u64 {
        TOP_PX + (ms as f64 * self.scale) as u64
    }
}

/// The whole page.
pub fn render(input: &TimelineInput) -> String {
    let mut lanes: BTreeMap<String, u64> = BTreeMap::new();
    for (i, (name, _)) in input.nodes.iter().enumerate() {
        lanes.insert(name.clone(), i as u64);
    }
    lanes.insert("clients".into(), input.nodes.len() as u64);
    let scale = (HEIGHT_PX_MAX / input.end_ms.max(1) as f64).min(2.0);
    let layout = Layout { lanes, scale };
    let width = (input.nodes.len() as u64 + 1) * LANE_WIDTH_PX;
    let height = layout.y(input.end_ms) + 40;
    let mut svg = String::new();
    draw_lanes(&mut svg, &layout, height);
    draw_messages(&mut svg, &layout, input);
    draw_events(&mut svg, &layout, input, width);
    draw_operations(&mut svg, &layout, &input.history.operations);
    page(&input.title, width, height, &svg)
}

fn draw_lanes(svg: &mut String, layout: &Layout, height: u64) {
    for lane in layout.lanes.keys() {
        let x = layout.x(lane);
        let _ = write!(
            svg,
            r#"<line x1="{x}" y1="{TOP_PX}" x2="{x}" y2="{height}" class="lane"/><text x="{x}" y="30" class="head">{}</text>"#,
            escape(lane)
        );
    }
}

/// Pairs each receive with the oldest unmatched send of the same kind on that link.
fn draw_messages(svg: &mut String, layout: &Layout, input: &TimelineInput) {
    let ip_to_node: BTreeMap<&str, &str> = input
        .nodes
        .iter()
        .map(|(n, ip)| (ip.as_str(), n.as_str()))
        .collect();
    let node_of = |addr: &str| {
        ip_to_node
            .get(addr.rsplit_once(':').map_or(addr, |(ip, _)| ip))
            .map(|s| s.to_string())
    };
    let mut in_flight: BTreeMap<(String, String, String), VecDeque<u64>> = BTreeMap::new();
    for m in input.messages {
        let Some(peer) = node_of(&m.peer) else {
            continue;
        };
        if m.sent {
            in_flight
                .entry((m.node.clone(), peer, m.kind.clone()))
                .or_default()
                .push_back(m.at_ms);
            continue;
        }
        let Some(sent_ms) = in_flight
            .get_mut(&(peer.clone(), m.node.clone(), m.kind.clone()))
            .and_then(|q| q.pop_front())
        else {
            continue;
        };
        let (x1, y1, x2, y2) = (
            layout.x(&peer),
            layout.y(sent_ms),
            layout.x(&m.node),
            layout.y(m.at_ms),
        );
        let class = message_class(&m.kind);
        let _ = write!(
            svg,
            r#"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" class="msg {class}" marker-end="url(#arrow)"><title>{} {peer} -> {} at {sent_ms}..{} ms</title></line>"#,
            escape(&m.kind),
            m.node,
            m.at_ms
        );
    }
}

fn message_class(kind: &str) -> &'static str {
    match kind {
        k if k.contains("Vote") => "vote",
        k if k.starts_with("Append") => "append",
        k if k.contains("Snapshot") => "snapshot",
        "Gossip" => "gossip",
        _ => "other",
    }
}

/// Faults as red bands across all lanes; node state changes as labels in their lane.
fn draw_events(svg: &mut String, layout: &Layout, input: &TimelineInput, width: u64) {
    const FAULTS: [&str; 12] = [
        "kill",
        "restart",
        "partition",
        "heal",
        "clog",
        "unclog",
        "pause",
        "resume",
        "network",
        "cut",
        "leave",
        "start",
    ];
    for (at_ms, event) in input.events {
        let y = layout.y(*at_ms);
        let first = event.split_whitespace().next().unwrap_or("");
        if FAULTS.contains(&first) {
            let _ = write!(
                svg,
                r#"<line x1="0" y1="{y}" x2="{width}" y2="{y}" class="fault"/><text x="4" y="{}" class="fault-label">{at_ms} ms: {}</text>"#,
                y.saturating_sub(2),
                escape(event)
            );
        } else if let Some((node, state)) = event.split_once(": ") {
            if layout.lanes.contains_key(node) && !state.starts_with("line ") {
                let x = layout.x(node) + 4;
                let class = if state.starts_with("leader") {
                    "state leader"
                } else {
                    "state"
                };
                let _ = write!(
                    svg,
                    r#"<text x="{x}" y="{y}" class="{class}">{}</text>"#,
                    escape(state)
                );
            }
        }
    }
}

fn draw_operations(svg: &mut String, layout: &Layout, operations: &[Operation]) {
    let x = layout.x("clients") - LANE_WIDTH_PX / 2 + 4;
    for op in operations {
        let (y1, y2) = (
            layout.y(op.invoke_ms),
            layout.y(op.return_ms).max(layout.y(op.invoke_ms) + 2),
        );
        let class = match &op.result {
            Ok(_) => "op-ok",
            Err(concord_core::agent::ApiError::Timeout) => "op-unknown",
            Err(_) => "op-err",
        };
        let lane_x = x + (op.client % 8) * 20;
        let title = escape(&format!(
            "client {} on {}: {:?} -> {:?} ({}..{} ms)",
            op.client, op.node, op.request, op.result, op.invoke_ms, op.return_ms
        ));
        let _ = write!(
            svg,
            r#"<rect x="{lane_x}" y="{y1}" width="16" height="{}" class="{class}"><title>{title}</title></rect>"#,
            y2 - y1
        );
    }
}

fn page(title: &str, width: u64, height: u64, svg: &str) -> String {
    format!(
        r##"<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>
body{{font:12px sans-serif;margin:8px}} .lane{{stroke:#bbb}} .head{{font-weight:bold;text-anchor:middle}}
.msg{{stroke-width:1;opacity:.5}} .vote{{stroke:#1f5fd6}} .append{{stroke:#888}} .snapshot{{stroke:#a0a}}
.gossip{{stroke:#4a4}} .other{{stroke:#c80}} .fault{{stroke:#d00;stroke-width:1;opacity:.6}}
.fault-label{{fill:#d00}} .state{{fill:#333}} .leader{{fill:#060;font-weight:bold}}
.op-ok{{fill:#3a3}} .op-err{{fill:#d33}} .op-unknown{{fill:#f90}} label{{margin-right:12px}}
</style></head><body><h3>{title}</h3><div>
<label><input type="checkbox" checked onchange="t('append',this)">AppendEntries</label>
<label><input type="checkbox" checked onchange="t('vote',this)">votes</label>
<label><input type="checkbox" checked onchange="t('gossip',this)">gossip</label>
<label><input type="checkbox" checked onchange="t('other',this)">other</label></div>
<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="5" markerHeight="5" orient="auto"><path d="M0,0L10,5L0,10z" fill="grey"/></marker></defs>{svg}</svg>
<script>function t(c,e){{for(const n of document.getElementsByClassName(c))n.style.display=e.checked?'':'none'}}</script>
</body></html>"##,
        title = escape(title)
    )
}
