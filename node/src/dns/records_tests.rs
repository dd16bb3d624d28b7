use super::*;
use concord_core::catalog::{HealthCheck, Service, Weights};

const D: &str = "consul.";

fn entry(
    node: &str,
    addr: &str,
    service_addr: &str,
    port: u16,
    statuses: &[CheckStatus],
) -> ServiceEntry {
    let checks = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| HealthCheck {
            node: node.into(),
            check_id: format!("c{i}"),
            name: String::new(),
            status: *status,
            notes: String::new(),
            output: String::new(),
            service_id: String::new(),
            service_name: String::new(),
            service_tags: vec![],
            check_type: String::new(),
            interval: String::new(),
            timeout: String::new(),
            definition: Default::default(),
            create_index: 1,
            modify_index: 1,
        })
        .collect();
    ServiceEntry {
        node: Node {
            name: node.into(),
            address: addr.into(),
            ..Default::default()
        },
        service: Service {
            id: "web".into(),
            name: "web".into(),
            address: service_addr.into(),
            port,
            weights: Weights {
                passing: 10,
                warning: 2,
            },
            ..Default::default()
        },
        checks,
    }
}

fn context<'a>(qname: &'a Name, qtype: RecordType) -> Context<'a> {
    Context {
        qname,
        qtype,
        datacenter: "dc1",
        domain: D,
        ttl_s: 5,
    }
}

#[test]
fn critical_drops_an_instance_warning_drops_it_only_with_only_passing() {
    let passing = entry("n1", "10.0.0.1", "", 80, &[CheckStatus::Passing]);
    let warning = entry(
        "n2",
        "10.0.0.2",
        "",
        80,
        &[CheckStatus::Passing, CheckStatus::Warning],
    );
    let critical = entry(
        "n3",
        "10.0.0.3",
        "",
        80,
        &[CheckStatus::Critical, CheckStatus::Passing],
    );
    assert_eq!(health(&passing, false), Some(CheckStatus::Passing));
    assert_eq!(health(&warning, false), Some(CheckStatus::Warning));
    assert_eq!(health(&warning, true), None);
    assert_eq!(
        health(&critical, false),
        None,
        "a node-level critical check counts"
    );
    assert_eq!(
        health(&entry("n4", "10.0.0.4", "", 80, &[]), true),
        Some(CheckStatus::Passing)
    );
}

#[test]
fn srv_answers_weigh_by_health_and_add_the_target_s_address() {
    let qname = Name::from_ascii("web.service.consul.").unwrap();
    let entries = [
        (entry("n1", "10.0.0.1", "", 8080, &[]), CheckStatus::Passing),
        (entry("n2", "10.0.0.2", "", 8081, &[]), CheckStatus::Warning),
    ];
    let answer = service_answer(&entries, &context(&qname, RecordType::SRV));
    let srvs: Vec<(u16, u16, u16, String)> = answer
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::SRV(s) => (s.priority, s.weight, s.port, s.target.to_string()),
            other => panic!("not SRV: {other:?}"),
        })
        .collect();
    assert_eq!(
        srvs,
        [
            (1, 10, 8080, "n1.node.dc1.consul.".to_string()),
            (1, 2, 8081, "n2.node.dc1.consul.".to_string())
        ]
    );
    let extra: Vec<(String, RData)> = answer
        .additionals
        .iter()
        .map(|r| (r.name.to_string(), r.data.clone()))
        .collect();
    let a = |ip: [u8; 4]| RData::A(A(ip.into()));
    assert_eq!(
        extra,
        [
            ("n1.node.dc1.consul.".to_string(), a([10, 0, 0, 1])),
            ("n2.node.dc1.consul.".to_string(), a([10, 0, 0, 2]))
        ]
    );
}

#[test]
fn a_service_s_own_ip_is_an_addr_target_and_its_a_record() {
    let qname = Name::from_ascii("web.service.consul.").unwrap();
    let entries = [(
        entry("n1", "10.0.0.1", "192.168.1.5", 80, &[]),
        CheckStatus::Passing,
    )];
    let srv = service_answer(&entries, &context(&qname, RecordType::SRV));
    let RData::SRV(record) = &srv.answers[0].data else {
        panic!("not SRV");
    };
    assert_eq!(record.target.to_string(), "c0a80105.addr.dc1.consul.");
    assert_eq!(
        srv.additionals[0].name.to_string(),
        "c0a80105.addr.dc1.consul."
    );
    assert_eq!(
        srv.additionals[0].data,
        RData::A(A([192, 168, 1, 5].into()))
    );
    let a = service_answer(&entries, &context(&qname, RecordType::A));
    assert_eq!(a.answers.len(), 1, "{a:?}");
    assert_eq!(a.answers[0].data, RData::A(A([192, 168, 1, 5].into())));
    assert_eq!(
        a.answers[0].name, qname,
        "A answers are owned by the query name"
    );
}

#[test]
fn a_answers_are_one_per_address_and_only_of_the_type_asked() {
    let qname = Name::from_ascii("web.service.consul.").unwrap();
    let entries = [
        (entry("n1", "10.0.0.1", "", 80, &[]), CheckStatus::Passing),
        (entry("n1", "10.0.0.1", "", 81, &[]), CheckStatus::Passing),
        (
            entry("n2", "2001:db8::2", "", 80, &[]),
            CheckStatus::Passing,
        ),
    ];
    let a = service_answer(&entries, &context(&qname, RecordType::A));
    assert_eq!(
        a.answers.len(),
        1,
        "one A for the shared IPv4, none for IPv6: {a:?}"
    );
    assert_eq!(a.answers[0].ttl, 5);
    let aaaa = service_answer(&entries, &context(&qname, RecordType::AAAA));
    assert_eq!(aaaa.answers.len(), 1);
    let txt = service_answer(&entries, &context(&qname, RecordType::TXT));
    assert!(txt.answers.is_empty(), "no TXT records: {txt:?}");
}

#[test]
fn hostnames_answer_as_cname() {
    let owner = Name::from_ascii("n1.node.consul.").unwrap();
    let record = address_record(&owner, 0, "db.example.com", RecordType::A).unwrap();
    assert_eq!(
        record.data,
        RData::CNAME(CNAME(Name::from_ascii("db.example.com.").unwrap()))
    );
    assert_eq!(address_record(&owner, 0, "", RecordType::A), None);
}
