//! An HTTPS PUT to a pre-signed URL (an import job's CSV, a custom resource's answer to CloudFormation),
//! on the same hyper, rustls and aws-lc-rs stack the AWS SDK uses: one TLS implementation in every binary.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// PUTs `body` with the given headers; an answer other than 2xx is an error with its status and text.
pub async fn put(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<(), String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("loading the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut request = http::Request::put(url).header("Content-Length", body.len());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body))).map_err(|e| format!("building the request: {e}"))?;
    let response = client.request(request).await.map_err(|e| format!("PUT failed: {e}"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    Err(format!("PUT answered {status}: {}", text.chars().take(300).collect::<String>()))
}
