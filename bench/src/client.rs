//! One keep-alive HTTP/1.1 connection to the server, as each virtual user holds, plus the JSON
//! helpers the set-up steps use. Built on hyper's low-level connection API so that nothing
//! (pooling, retries, redirects) sits between a request and its measured latency.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HOST, IF_MATCH};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

/// One request a scenario wants sent.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
    pub if_match: Option<HeaderValue>,
    /// What the call does, for the workload's own bookkeeping when the answer comes back.
    pub kind: CallKind,
}

/// What a call is for; the mix uses it to follow the records its users create and update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Read,
    Write,
    CreateOwnPartner,
    UpdateOwnPartner,
}

impl Call {
    pub fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            body: None,
            if_match: None,
            kind: CallKind::Read,
        }
    }

    pub fn json(method: Method, path: String, body: &serde_json::Value, kind: CallKind) -> Self {
        Self {
            method,
            path,
            body: Some(Bytes::from(body.to_string())),
            if_match: None,
            kind,
        }
    }
}

/// The server's answer, read whole (the connection is reused, so the body must be drained).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub etag: Option<HeaderValue>,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "answer {} is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A keep-alive connection. After an I/O error it is dropped and a new one opened.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("host", &self.host).finish()
    }
}

impl Conn {
    /// Connects from `source` (a loopback address other than 127.0.0.1 multiplies the
    /// ephemeral ports available towards one server port) or from any address.
    pub async fn open(addr: SocketAddr, source: Option<IpAddr>) -> anyhow::Result<Self> {
        let stream = connect_tcp(addr, source).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(
        &mut self,
        call: &Call,
        token: Option<&HeaderValue>,
    ) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(HOST, self.host.clone());
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token.clone());
        }
        if let Some(version) = &call.if_match {
            request = request.header(IF_MATCH, version.clone());
        }
        let body = match &call.body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(body.clone())
            }
            None => Full::new(Bytes::new()),
        };
        self.sender.ready().await.context("connection closed")?;
        let response = self.sender.send_request(request.body(body)?).await?;
        let status = response.status();
        let etag = response.headers().get(ETAG).cloned();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, etag, body })
    }
}

/// A TCP connection with Nagle off, optionally bound to a source address.
pub async fn connect_tcp(
    addr: SocketAddr,
    source: Option<IpAddr>,
) -> anyhow::Result<tokio::net::TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket
        .connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> anyhow::Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

/// Sends one JSON call for the set-up steps and insists on a 2xx answer.
pub async fn expect_ok(
    conn: &mut Conn,
    call: &Call,
    token: Option<&HeaderValue>,
) -> anyhow::Result<Reply> {
    let reply = conn.send(call, token).await?;
    anyhow::ensure!(
        reply.status.is_success(),
        "{} {} answered {}: {}",
        call.method,
        call.path,
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(reply)
}
