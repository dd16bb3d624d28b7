//! hickory's `RequestHandler`: one query in, one reply out, answered from the catalog through
//! `NodeHandle::request` (stale reads unless `allow_stale = false`, as Consul's default).
//! A failed read (no leader, timeout, overload) is SERVFAIL; nothing a client sends panics.

use super::config::DnsConfig;
use super::limits::{self, AnswerLimits, Transport};
use super::name::{self, Lookup};
use super::records::{self, Answer, Context};
use super::shuffle::Shuffler;
use super::soa::soa_record;
use crate::handle::NodeHandle;
use concord_core::agent::{CatalogAnswer, CatalogRead, Consistency, Request, Response};
use concord_core::catalog::{Node, ServiceEntry};
use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{
    Request as DnsRequest, RequestHandler, ResponseHandler, ResponseInfo,
};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Queries being answered at once, over every listener. hickory spawns a task per UDP
/// datagram; past this many, a query is answered SERVFAIL at once instead of queueing a
/// catalog read (the agent's request queue is shared with HTTP).
pub const DNS_QUERIES_IN_FLIGHT_MAX: usize = 1024;
/// A catalog read slower than this is SERVFAIL: `dig` gives up after 5 s, and a resolver
/// retrying sooner would only add reads.
pub const DNS_LOOKUP_TIMEOUT_MS: u64 = 2_000;

/// A failed lookup: the reply's rcode, with no records.
#[derive(Debug, PartialEq, Eq)]
pub struct Fail(pub ResponseCode);

/// What a lookup found: records, or that the name does not exist (NXDOMAIN).
#[derive(Debug, PartialEq)]
pub enum Found {
    Records(Answer),
    NoSuchName,
}

pub struct DnsHandler {
    handle: NodeHandle,
    config: Arc<DnsConfig>,
    /// Lower case, as the targets spell it.
    datacenter: String,
    domain: Name,
    shuffler: Shuffler,
    in_flight: Semaphore,
}

impl DnsHandler {
    pub fn new(handle: NodeHandle, config: DnsConfig) -> Result<DnsHandler, String> {
        let domain = Name::from_ascii(&config.domain)
            .map_err(|e| format!("domain {:?} is not a DNS name: {e}", config.domain))?;
        Ok(DnsHandler {
            datacenter: handle.info().datacenter.to_ascii_lowercase(),
            handle,
            config: Arc::new(config),
            domain,
            shuffler: Shuffler::from_process(),
            in_flight: Semaphore::new(DNS_QUERIES_IN_FLIGHT_MAX),
        })
    }

    /// The reply to `request`, limits applied, ready to encode.
    pub async fn reply(&self, request: &DnsRequest) -> Message {
        let mut reply = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
        reply.metadata = Metadata::response_from_request(&request.metadata);
        reply.metadata.authoritative = true;
        if let Some(edns) = &request.edns {
            // hickory encodes a UDP reply within the size our OPT record states: the size the
            // client offered, within what `limits` trims to.
            let transport = Transport::Udp {
                edns_payload: Some(edns.max_payload()),
            };
            let mut ours = Edns::new();
            ours.set_max_payload(limits::bytes_max(transport));
            reply.edns = Some(ours);
        }
        let queries = request.queries.queries();
        let [query] = queries else {
            reply.metadata.response_code = ResponseCode::FormErr;
            return reply;
        };
        let query = query.original().clone();
        reply.add_query(query.clone());
        if request.metadata.op_code != OpCode::Query {
            reply.metadata.response_code = ResponseCode::NotImp;
            return reply;
        }
        let Ok(_permit) = self.in_flight.try_acquire() else {
            reply.metadata.response_code = ResponseCode::ServFail;
            return reply;
        };
        let found = self.lookup(&query).await;
        self.fill(&mut reply, found);
        let transport = match request.protocol() {
            Protocol::Udp => Transport::Udp {
                edns_payload: request.edns.as_ref().map(Edns::max_payload),
            },
            _ => Transport::Tcp,
        };
        self.limit(&mut reply, query.query_type(), transport);
        tracing::debug!(
            "dns: request served: name={} type={} rcode={} answers={} client={}",
            query.name(),
            query.query_type(),
            reply.metadata.response_code,
            reply.answers.len(),
            request.src()
        );
        reply
    }

    /// Puts the lookup's result in `reply`: the records, or the rcode; the SOA in Authority
    /// when there is no answer.
    fn fill(&self, reply: &mut Message, found: Result<Found, Fail>) {
        match found {
            Err(Fail(code)) => reply.metadata.response_code = code,
            Ok(Found::NoSuchName) => {
                reply.metadata.response_code = ResponseCode::NXDomain;
                reply.add_authority(soa_record(&self.domain, unix_now_s()));
            }
            Ok(Found::Records(answer)) if answer.answers.is_empty() => {
                reply.add_authority(soa_record(&self.domain, unix_now_s()));
            }
            Ok(Found::Records(answer)) => {
                reply.insert_answers(answer.answers);
                reply.insert_additionals(answer.additionals);
            }
        }
    }

    fn limit(&self, reply: &mut Message, qtype: RecordType, transport: Transport) {
        let answer_limits = AnswerLimits {
            udp_answer_limit: self.config.udp_answer_limit,
            a_record_limit: self.config.a_record_limit,
        };
        let trimmed = limits::trim(reply, qtype, transport, answer_limits);
        let udp = matches!(transport, Transport::Udp { .. });
        reply.metadata.truncation = trimmed && udp && self.config.enable_truncate;
    }

    /// Reads what `query` asks for.
    pub async fn lookup(&self, query: &Query) -> Result<Found, Fail> {
        let qname = query.name();
        let cx = |ttl_s| Context {
            qname,
            qtype: query.query_type(),
            datacenter: &self.datacenter,
            domain: &self.config.domain,
            ttl_s,
        };
        match name::parse(&qname.to_ascii(), &self.config.domain) {
            Lookup::Outside => Err(Fail(ResponseCode::Refused)),
            Lookup::Unknown => Ok(Found::NoSuchName),
            Lookup::Apex => Ok(self.apex(query.query_type())),
            Lookup::Service { dc, .. } | Lookup::Node { dc, .. } | Lookup::Addr { dc, .. }
                if !self.local(dc.as_deref()) =>
            {
                Ok(Found::NoSuchName)
            }
            Lookup::Addr { ip, .. } => {
                let record = records::address_record(qname, 0, &ip.to_string(), query.query_type());
                Ok(Found::Records(Answer {
                    answers: record.into_iter().collect(),
                    additionals: vec![],
                }))
            }
            Lookup::Node { name, .. } => {
                let node = self.node(&name).await?;
                Ok(node.map_or(Found::NoSuchName, |node| {
                    let ttl_s = self.config.node_ttl_s();
                    let record =
                        records::address_record(qname, ttl_s, &node.address, cx(ttl_s).qtype);
                    Found::Records(Answer {
                        answers: record.into_iter().collect(),
                        additionals: vec![],
                    })
                }))
            }
            Lookup::Service { name, tag, .. } => {
                let entries = self.healthy_entries(&name, tag.as_deref()).await?;
                if entries.is_empty() {
                    return Ok(Found::NoSuchName);
                }
                let ttl_s = self.config.service_ttl_s(&entries[0].0.service.name);
                Ok(Found::Records(records::service_answer(
                    &entries,
                    &cx(ttl_s),
                )))
            }
        }
    }

    /// The domain itself: its SOA when asked, else no records (NOERROR with the SOA).
    fn apex(&self, qtype: RecordType) -> Found {
        let answers = match qtype {
            RecordType::SOA => vec![soa_record(&self.domain, unix_now_s())],
            _ => vec![],
        };
        Found::Records(Answer {
            answers,
            additionals: vec![],
        })
    }

    /// No datacenter, or this agent's (Concord has no WAN federation: others do not exist).
    fn local(&self, dc: Option<&str>) -> bool {
        dc.is_none_or(|dc| dc.eq_ignore_ascii_case(&self.datacenter))
    }

    /// The instances of `name` carrying `tag` that DNS answers with, shuffled.
    async fn healthy_entries(
        &self,
        name: &str,
        tag: Option<&str>,
    ) -> Result<Vec<(ServiceEntry, concord_core::catalog::CheckStatus)>, Fail> {
        let mut entries = self.service_entries(name).await?;
        if entries.is_empty() {
            if let Some(stored) = self.stored_service_name(name).await? {
                entries = self.service_entries(&stored).await?;
            }
        }
        let only_passing = self.config.only_passing;
        let mut healthy: Vec<_> = entries
            .into_iter()
            .filter(|entry| tag.is_none_or(|tag| records::has_tag(entry, tag)))
            .filter_map(|entry| records::health(&entry, only_passing).map(|s| (entry, s)))
            .collect();
        self.shuffler.shuffle(&mut healthy);
        Ok(healthy)
    }

    async fn service_entries(&self, name: &str) -> Result<Vec<ServiceEntry>, Fail> {
        let read = CatalogRead::HealthService {
            name: name.to_string(),
            tags: vec![],
            passing: false,
        };
        match self.read(read).await? {
            CatalogAnswer::Entries(entries) => Ok(entries),
            _ => Err(Fail(ResponseCode::ServFail)),
        }
    }

    /// The catalog's spelling of a service name that differs from `name` only in case (DNS
    /// names are case-insensitive; Consul's catalog lookups are too).
    async fn stored_service_name(&self, name: &str) -> Result<Option<String>, Fail> {
        match self.read(CatalogRead::CatalogServices).await? {
            CatalogAnswer::Services(services) => Ok(services
                .into_keys()
                .find(|stored| stored != name && stored.eq_ignore_ascii_case(name))),
            _ => Err(Fail(ResponseCode::ServFail)),
        }
    }

    /// The node named `name`, as sent or else without regard to case.
    async fn node(&self, name: &str) -> Result<Option<Node>, Fail> {
        let read = CatalogRead::CatalogNode { name: name.into() };
        if let CatalogAnswer::Node(Some((node, _))) = self.read(read).await? {
            return Ok(Some(node));
        }
        match self.read(CatalogRead::CatalogNodes).await? {
            CatalogAnswer::Nodes(nodes) => Ok(nodes
                .into_iter()
                .find(|node| node.name.eq_ignore_ascii_case(name))),
            _ => Err(Fail(ResponseCode::ServFail)),
        }
    }

    async fn read(&self, read: CatalogRead) -> Result<CatalogAnswer, Fail> {
        let consistency = if self.config.allow_stale {
            Consistency::Stale
        } else {
            Consistency::Default
        };
        let request = Request::Catalog { read, consistency };
        let timeout = Duration::from_millis(DNS_LOOKUP_TIMEOUT_MS);
        match tokio::time::timeout(timeout, self.handle.request(request)).await {
            Ok(Ok(Response::Catalog { answer, .. })) => Ok(answer),
            Ok(Ok(_)) | Ok(Err(_)) | Err(_) => Err(Fail(ResponseCode::ServFail)),
        }
    }
}

/// The handler as hickory's UDP server holds it (the TCP listener, `tcp.rs`, shares it).
pub struct SharedHandler(pub Arc<DnsHandler>);

#[async_trait::async_trait]
impl RequestHandler for SharedHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &DnsRequest,
        mut response_handle: R,
    ) -> ResponseInfo {
        let reply = self.0.reply(request).await;
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &reply.edns {
            builder.edns(edns);
        }
        let response = builder.build(
            reply.metadata,
            reply.answers.iter(),
            reply.authorities.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!("dns: cannot send a reply to {}: {e}", request.src());
                let header = hickory_proto::op::Header {
                    metadata: reply.metadata,
                    counts: Default::default(),
                };
                ResponseInfo::from(header)
            }
        }
    }
}

impl DnsHandler {
    /// The encoded reply to the message `raw`, as hickory's server answers one: FORMERR for
    /// a message that does not decode but has a header, nothing for a shorter one or for a
    /// response (answering those would let forged sources bounce traffic between servers).
    pub async fn reply_bytes(
        &self,
        raw: Vec<u8>,
        src: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let header = raw.get(..HEADER_BYTES)?;
        let reply = match DnsRequest::from_bytes(raw.clone(), src, protocol) {
            Ok(request) if request.metadata.message_type == MessageType::Response => return None,
            Ok(request) => self.reply(&request).await,
            Err(_) => {
                let id = u16::from_be_bytes([header[0], header[1]]);
                Message::error_msg(id, OpCode::Query, ResponseCode::FormErr)
            }
        };
        reply.to_vec().ok()
    }
}

/// A DNS header: id, flags and four counts of 16 bits.
const HEADER_BYTES: usize = 12;

fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
