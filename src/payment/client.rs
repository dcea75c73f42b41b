//! The `alipay.intl.*` Global Open API client (alipay-api.md): builds the signed envelope, POSTs it
//! with connect/read timeouts, verifies the answer with Alipay's public key over the raw `response`
//! bytes, and turns it into a protocol-neutral [`Reply`]. A fresh reqMsgId per HTTP call; the
//! merchant's ids (the idempotency keys) come from the caller unchanged.

use super::core::{
    truncate, Amount, CallError, CallStatus, Echo, Gateway, Money, PayOrder, RefundOrder, Reply, TradeState,
};
use super::sign::{self, PrivateKey, PublicKey};
use crate::config::Config;
use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;

pub const VERSION: &str = "2.0.4";

/// The four functions: (function name, URL path).
pub const PAY: (&str, &str) = ("alipay.intl.acquiring.offline.pay", "/api/alipay/intl/acquiring/offline/pay.htm");
pub const QUERY: (&str, &str) =
    ("alipay.intl.acquiring.offline.payQuery", "/api/alipay/intl/acquiring/offline/payquery.htm");
pub const CANCEL: (&str, &str) =
    ("alipay.intl.acquiring.common.payCancel", "/api/alipay/intl/acquiring/common/paycancel.htm");
pub const REFUND: (&str, &str) =
    ("alipay.intl.acquiring.common.refund", "/api/alipay/intl/acquiring/common/grefund.htm");

/// How much of an unexpected body is kept in an error.
const BODY_IN_ERRORS: usize = 500;

/// The request head; field order is the transmitted order (the signed bytes are what we send).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Head<'a> {
    pub version: &'a str,
    pub function: &'a str,
    pub client_id: &'a str,
    pub req_time: String,
    pub req_msg_id: String,
    pub reserve: &'a str,
    pub sign_type: &'a str,
}

/// Everything needed to talk to one environment.
#[derive(Debug, Clone)]
pub struct IntlSettings {
    pub base_url: String,
    pub client_id: String,
    pub merchant_id: String,
    pub product_code: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

pub struct IntlClient {
    settings: IntlSettings,
    key: PrivateKey,
    alipay_key: PublicKey,
    agent: ureq::Agent,
}

/// `{"currency":"HKD","value":"5600"}`: minor units as an integer string.
pub fn money_json(a: &Amount) -> Value {
    json!({"currency": a.currency.as_str(), "value": a.minor.to_string()})
}

/// Now in UTC+8 (Alipay's zone), whole seconds (as Alipay writes times).
pub fn beijing_now() -> DateTime<FixedOffset> {
    let now = Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).expect("valid offset"));
    chrono::Timelike::with_nanosecond(&now, 0).unwrap_or(now)
}

impl IntlClient {
    pub fn new(settings: IntlSettings, key: PrivateKey, alipay_key: PublicKey) -> IntlClient {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(settings.connect_timeout))
            .timeout_recv_response(Some(settings.read_timeout))
            .timeout_recv_body(Some(settings.read_timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        IntlClient { settings, key, alipay_key, agent: ureq::Agent::new_with_config(config) }
    }

    /// Builds the client of the active environment; errors name the missing config key.
    pub fn from_config(cfg: &Config) -> Result<IntlClient> {
        let env_name = &cfg.environment;
        let env = cfg.active();
        let key_name = format!("environments.{env_name}.private_key");
        let need = |v: &Option<String>, k: &str| {
            v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                anyhow!("{}: key `environments.{env_name}.{k}` is required by the payment module", cfg.origin)
            })
        };
        let base_url = need(&env.api_base_url, "api_base_url")?;
        let client_id = need(&env.client_id, "client_id")?;
        let secret = env.private_key.resolve(&key_name, &cfg.base_dir)?.ok_or_else(|| {
            anyhow!(
                "{}: key `{key_name}` is not set: name an env variable or file holding the merchant's RSA2 private key",
                cfg.origin
            )
        })?;
        let key = PrivateKey::parse(secret.expose(), &key_name)?;
        let pub_path = env.alipay_public_key_file.as_ref().ok_or_else(|| {
            anyhow!(
                "{}: key `environments.{env_name}.alipay_public_key_file` is required to verify Alipay's answers",
                cfg.origin
            )
        })?;
        let pub_path = cfg.path(pub_path);
        let text = std::fs::read_to_string(&pub_path).with_context(|| {
            format!(
                "cannot read Alipay's public key {} (environments.{env_name}.alipay_public_key_file)",
                pub_path.display()
            )
        })?;
        let alipay_key = PublicKey::parse(&text, &pub_path.display().to_string())?;
        let p = &cfg.payment;
        Ok(IntlClient::new(
            IntlSettings {
                base_url: base_url.trim_end_matches('/').to_string(),
                client_id,
                merchant_id: env.merchant_id.clone(),
                product_code: p.product_code.clone(),
                connect_timeout: Duration::from_millis(p.connect_timeout_ms),
                read_timeout: Duration::from_millis(p.read_timeout_ms),
            },
            key,
            alipay_key,
        ))
    }

    pub fn merchant_id(&self) -> &str {
        &self.settings.merchant_id
    }

    /// Signs `{head, body}` once, sends exactly those bytes, verifies the answer.
    fn call(&self, (function, path): (&str, &str), body: Value) -> Result<Reply, CallError> {
        let req_msg_id = uuid::Uuid::new_v4().to_string();
        let url = format!("{}{}", self.settings.base_url, path);
        let head = Head {
            version: VERSION,
            function,
            client_id: &self.settings.client_id,
            req_time: beijing_now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            req_msg_id: req_msg_id.clone(),
            reserve: "{}",
            sign_type: "RSA2",
        };
        let malformed = |reason: String, body: &str| CallError::Malformed {
            url: url.clone(),
            req_msg_id: req_msg_id.clone(),
            reason,
            body: truncate(body, BODY_IN_ERRORS),
        };
        let inner =
            serde_json::to_string(&json!({"head": head, "body": body})).map_err(|e| malformed(e.to_string(), ""))?;
        let envelope = sign::sign_envelope(&self.key, "request", &inner).map_err(|e| malformed(e.to_string(), ""))?;
        tracing::debug!(%url, %req_msg_id, function, "calling Alipay");
        let sent =
            self.agent.post(&url).header("Content-Type", "application/json; charset=UTF-8").send(envelope.as_str());
        let mut resp = sent.map_err(|e| self.transport_error(&url, &req_msg_id, e))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(|e| self.transport_error(&url, &req_msg_id, e))?;
        if status != 200 {
            return Err(CallError::Http { url, req_msg_id, status, body: truncate(&text, BODY_IN_ERRORS) });
        }
        let inner = sign::open_envelope(&text, "response", &self.alipay_key).map_err(|e| CallError::BadSignature {
            url: url.clone(),
            req_msg_id: req_msg_id.clone(),
            reason: e.to_string(),
            body: truncate(&text, BODY_IN_ERRORS),
        })?;
        let v: Value = serde_json::from_str(inner).map_err(|e| malformed(format!("not JSON: {e}"), &text))?;
        let echoed = v["head"]["reqMsgId"].as_str().unwrap_or_default();
        if echoed != req_msg_id {
            return Err(malformed(format!("the answer is for reqMsgId '{echoed}', not this call"), &text));
        }
        parse_reply(&v["body"], req_msg_id.clone()).map_err(|reason| malformed(reason, &text))
    }

    fn transport_error(&self, url: &str, req_msg_id: &str, e: ureq::Error) -> CallError {
        let (url, req_msg_id) = (url.to_string(), req_msg_id.to_string());
        match e {
            ureq::Error::Timeout(t) => CallError::Timeout { url, req_msg_id, detail: format!("timeout: {t}") },
            ureq::Error::Io(io)
                if io.kind() == std::io::ErrorKind::TimedOut || io.kind() == std::io::ErrorKind::WouldBlock =>
            {
                CallError::Timeout { url, req_msg_id, detail: io.to_string() }
            }
            other => CallError::Transport { url, req_msg_id, detail: other.to_string() },
        }
    }
}

/// Reads a response body into a [`Reply`]; `Err` names what is missing.
pub fn parse_reply(body: &Value, req_msg_id: String) -> Result<Reply, String> {
    let info = &body["resultInfo"];
    let status_text = info["resultStatus"].as_str().ok_or("resultInfo.resultStatus is missing")?;
    let status =
        CallStatus::parse(status_text).ok_or_else(|| format!("resultStatus '{status_text}' is not S, F or U"))?;
    let s = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let trade = ["transStatus", "paymentStatus", "tradeStatus"]
        .iter()
        .find_map(|k| body[*k].as_str())
        .and_then(TradeState::parse);
    Ok(Reply {
        status,
        code: s(&info["resultCode"]).unwrap_or_else(|| "UNKNOWN".into()),
        message: s(&info["resultMsg"]).unwrap_or_default(),
        alipay_id: s(&body["acquirementId"]),
        refund_alipay_id: s(&body["refundAcquirementId"]).or_else(|| s(&body["refundId"])),
        paid_at: s(&body["paymentTime"]).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()),
        refunded_at: s(&body["refundTime"]).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()),
        trade,
        req_msg_id,
        echo: Echo {
            merchant_trans_id: s(&body["merchantTransId"]).or_else(|| s(&body["paymentRequestId"])),
            merchant_refund_id: s(&body["merchantRefundId"]).or_else(|| s(&body["refundRequestId"])),
            order_amount: money_of(&body["orderAmount"]),
            pay_amount: money_of(&body["payAmount"]).or_else(|| money_of(&body["paymentAmount"])),
            refund_amount: money_of(&body["refundAmount"]),
        },
    })
}

/// A money object as received; present but not `{currency, value}` strings keeps what is there.
fn money_of(v: &Value) -> Option<Money> {
    if v.is_null() {
        return None;
    }
    let text = |f: &Value| match f {
        Value::String(t) => t.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Some(Money { currency: text(&v["currency"]), value: text(&v["value"]) })
}

impl Gateway for IntlClient {
    fn pay(&self, o: &PayOrder) -> Result<Reply, CallError> {
        let body = json!({
            "merchantId": self.settings.merchant_id,
            "productCode": self.settings.product_code,
            "merchantTransId": o.merchant_trans_id,
            "codeType": "BARCODE",
            "identityCode": o.identity_code,
            "order": {"orderTitle": o.title, "orderAmount": money_json(&o.amount)},
        });
        self.call(PAY, body)
    }

    fn query(&self, merchant_trans_id: &str) -> Result<Reply, CallError> {
        self.call(QUERY, json!({"merchantId": self.settings.merchant_id, "merchantTransId": merchant_trans_id}))
    }

    fn cancel(&self, merchant_trans_id: &str) -> Result<Reply, CallError> {
        self.call(CANCEL, json!({"merchantId": self.settings.merchant_id, "merchantTransId": merchant_trans_id}))
    }

    fn refund(&self, o: &RefundOrder) -> Result<Reply, CallError> {
        let mut body = json!({
            "merchantId": self.settings.merchant_id,
            "acquirementId": o.alipay_id,
            "merchantRefundId": o.merchant_refund_id,
            "refundAmount": money_json(&o.amount),
        });
        if let Some(r) = &o.reason {
            body["refundReason"] = json!(r);
        }
        self.call(REFUND, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_parsing() {
        let v: Value = serde_json::from_str(
            r#"{"resultInfo":{"resultStatus":"S","resultCode":"SUCCESS","resultMsg":"ok"},"acquirementId":"A1","paymentTime":"2026-11-26T10:00:00+08:00","transStatus":"SUCCESS"}"#,
        )
        .unwrap();
        let r = parse_reply(&v, "m".into()).unwrap();
        assert_eq!((r.status, r.code.as_str(), r.alipay_id.as_deref()), (CallStatus::Success, "SUCCESS", Some("A1")));
        assert_eq!(r.trade, Some(TradeState::Paid));
        assert_eq!(r.paid_at.unwrap().to_rfc3339(), "2026-11-26T10:00:00+08:00");
        let bad: Value = serde_json::from_str(r#"{"resultInfo":{"resultStatus":"X"}}"#).unwrap();
        assert!(parse_reply(&bad, "m".into()).unwrap_err().contains("'X'"));
        assert!(parse_reply(&json!({}), "m".into()).is_err());
    }

    /// A client against a one-shot local server that answers with `status` and `body` after `delay`.
    fn against(status: u16, body: &'static str, delay_ms: u64) -> (IntlClient, String) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        std::thread::spawn(move || {
            if let Ok(req) = server.recv() {
                std::thread::sleep(Duration::from_millis(delay_ms));
                let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(status));
            }
        });
        let key = PrivateKey::generate().unwrap();
        let settings = IntlSettings {
            base_url: url.clone(),
            client_id: "CID".into(),
            merchant_id: "2188000000000001".into(),
            product_code: "OFFLINE_PAY".into(),
            connect_timeout: Duration::from_millis(500),
            read_timeout: Duration::from_millis(300),
        };
        let public = key.public().unwrap();
        (IntlClient::new(settings, key, public), url)
    }

    #[test]
    fn http_errors_keep_status_url_request_id_and_a_truncated_body() {
        let long: &'static str = Box::leak("x".repeat(2000).into_boxed_str());
        let (c, url) = against(502, long, 0);
        let e = c.query("P1").unwrap_err();
        let CallError::Http { url: u, req_msg_id, status, body } = &e else { panic!("{e:?}") };
        assert_eq!((u.as_str(), *status), (format!("{url}{}", QUERY.1).as_str(), 502));
        assert_eq!(req_msg_id.len(), 36);
        assert!(body.len() < 600 && body.ends_with("(truncated)"));
        let text = e.to_string();
        assert!(text.contains("HTTP 502") && text.contains(req_msg_id) && !text.contains("PRIVATE"), "{text}");
    }

    #[test]
    fn a_slow_answer_is_a_timeout_and_an_unsigned_one_is_untrusted() {
        let (c, _) = against(200, "{}", 1500);
        let e = c.query("P1").unwrap_err();
        assert!(matches!(e, CallError::Timeout { .. }), "{e:?}");
        let (c, _) = against(200, r#"{"response":{"head":{},"body":{}},"signature":"AAAA"}"#, 0);
        assert!(matches!(c.query("P1"), Err(CallError::BadSignature { .. })));
        let refused = IntlClient::new(
            IntlSettings { base_url: "http://127.0.0.1:9".into(), ..c.settings.clone() },
            c.key.clone(),
            c.alipay_key.clone(),
        );
        assert!(matches!(refused.query("P1"), Err(CallError::Transport { .. } | CallError::Timeout { .. })));
    }

    #[test]
    fn money_is_minor_units_text() {
        let a = Amount { minor: 5600, currency: crate::domain::Currency::parse("HKD").unwrap() };
        assert_eq!(money_json(&a).to_string(), r#"{"currency":"HKD","value":"5600"}"#);
    }
}
