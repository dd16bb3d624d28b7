//! `concord version`, in Consul's shape.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn lines() -> Vec<String> {
    vec![
        format!("Concord v{VERSION}"),
        "Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)".to_string(),
    ]
}

pub fn run() -> i32 {
    for line in lines() {
        println!("{line}");
    }
    0
}
