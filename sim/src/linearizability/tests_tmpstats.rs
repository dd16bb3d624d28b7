use super::testkit::{get, put};
use super::{check, Operation};
use std::time::Instant;

#[test]
fn tmp_stats() {
    let mut history: Vec<Operation> = (0..20)
        .map(|i| put(i, "k", &format!("v{i}"), 0, 100))
        .collect();
    history.push(get(99, "k", Some("v1"), 200, 210));
    history.push(get(99, "k", Some("v2"), 220, 230));
    let t = Instant::now();
    let v = check(&history);
    println!("bound: {v:?} {:?}", t.elapsed());
}
