//! An S3 protocol server over a directory (s3s-fs, the server the API tests use), for
//! `scripts/fleet`: `s3_server <dir> <address> <bucket> <access key> <secret key>`.
//! Each directory under `<dir>` is a bucket; `<bucket>` is created if missing.

use std::net::SocketAddr;

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, address, bucket, access_key, secret_key] = args.as_slice() else {
        anyhow::bail!("usage: s3_server <dir> <address> <bucket> <access key> <secret key>");
    };
    std::fs::create_dir_all(std::path::Path::new(root).join(bucket))
        .with_context(|| format!("creating {root}/{bucket}"))?;
    let fs =
        s3s_fs::FileSystem::new(root).map_err(|err| anyhow::anyhow!("opening {root}: {err:?}"))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        access_key.as_str(),
        secret_key.as_str(),
    ));
    let service = builder.build();
    let address: SocketAddr = address.parse().context("the address")?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    println!("S3 on http://{address}, bucket {bucket}");
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors and the like: wait a moment rather than spin or exit.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
        });
    }
}
